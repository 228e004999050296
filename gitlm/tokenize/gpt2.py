"""The exact GPT-2 BPE, offline: from the `gpt2.tiktoken` file the openai-whisper package
ships (byte-identical to tiktoken's r50k_base), converted once to a Hugging Face fast
tokenizer with transformers' TikTokenConverter and cached.

The cache lives in `<cache_dir>/gpt2-<sha256 prefix of the file>/tokenizer.json`, where
cache_dir is `tokenize.cache_dir`, else $GITLM_CACHE_DIR, else $XDG_CACHE_HOME/gitlm, else
~/.cache/gitlm. A cache that cannot be written is not an error: the conversion takes well
under a second and is simply redone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from gitlm.errors import GitlmError

# GPT-2's pre-tokenization pattern as released (tiktoken's r50k_base uses an equivalent,
# faster form with possessive quantifiers).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT2_EOS = "<|endoftext|>"
GPT2_EOS_ID = 50256
# sha256 of r50k_base.tiktoken as tiktoken pins it (tiktoken_ext/openai_public.py).
R50K_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"


def gpt2_tiktoken_file() -> Path:
    """whisper/assets/gpt2.tiktoken, located without importing whisper (it imports torch)."""
    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        raise GitlmError(
            "the gpt2 tokenizer needs the openai-whisper package, which ships GPT-2's BPE file: "
            "pip install --no-deps openai-whisper==20250625"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "assets" / "gpt2.tiktoken"
    if not path.is_file():
        raise GitlmError(f"{path} is missing; reinstall openai-whisper (pip install --no-deps --force-reinstall openai-whisper)")
    return path


def default_cache_dir() -> Path:
    if os.environ.get("GITLM_CACHE_DIR"):
        return Path(os.environ["GITLM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitlm"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gpt2_backend(cache_dir: Path | None = None):
    """A `tokenizers.Tokenizer` with GPT-2's 50,257 ids (50256 = <|endoftext|>)."""
    from tokenizers import Tokenizer

    source = gpt2_tiktoken_file()
    digest = file_sha256(source)
    if digest != R50K_SHA256:
        raise GitlmError(f"{source} is not GPT-2's r50k_base BPE (sha256 {digest[:12]}…); reinstall openai-whisper")
    cached = (cache_dir or default_cache_dir()) / f"gpt2-{digest[:16]}" / "tokenizer.json"
    if cached.is_file():
        try:
            return Tokenizer.from_file(str(cached))
        except Exception:  # a corrupt cache entry: convert again and overwrite it
            pass
    from transformers.convert_slow_tokenizer import TikTokenConverter

    backend = TikTokenConverter(vocab_file=str(source), pattern=GPT2_PATTERN,
                                extra_special_tokens={GPT2_EOS: GPT2_EOS_ID}).converted()
    if backend.get_vocab_size(with_added_tokens=True) != 50257 or backend.token_to_id(GPT2_EOS) != GPT2_EOS_ID:
        raise GitlmError("converting gpt2.tiktoken did not give GPT-2's 50,257 ids; check the transformers version")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temp = cached.with_name(f".tokenizer.json.tmp-{os.getpid()}")
        backend.save(str(temp))
        os.replace(temp, cached)
    except OSError:
        pass  # read-only home or cache: the conversion is cheap, skip caching
    return backend
