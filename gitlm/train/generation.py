"""Text generation with a trained (or any local) causal LM: `gitlm generate` and the HTTP
API's /generate call this.

Loaded models are kept (a small LRU by directory and modification time) so a server answers
later requests without reloading. Output keeps gitlm's structural markers (`<FILE_MOD>`, ...)
and stops at the end-of-document token.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gitlm.errors import BadInputError

_CACHE: OrderedDict[tuple[str, int], tuple[Any, Any]] = OrderedDict()
_CACHE_SIZE = 2
_LOCK = threading.Lock()
# One generation at a time: a seeded request sets torch's global RNG, so concurrent requests
# (the HTTP server's thread pool) would otherwise disturb each other's sampling.
_GENERATE_LOCK = threading.Lock()


@dataclass
class Generation:
    prompt: str
    completion: str  # the generated text only
    text: str  # prompt + completion
    new_tokens: int
    finished: bool  # True when the model emitted the end-of-document token

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_directory(model: str | Path | None = None, workspace: str | Path | None = None) -> Path:
    """`model` when given, else <workspace>/model; one line when neither holds a model."""
    if model is not None:
        path = Path(model).expanduser()
    elif workspace is not None:
        path = Path(workspace) / "model"
    else:
        raise BadInputError("no model: pass --model PATH or --workspace DIR (a workspace that `gitlm train` finished)")
    if not (path / "config.json").is_file():
        hint = "run `gitlm train` first" if model is None else "a directory written by save_pretrained"
        raise BadInputError(f"no model in {path} (config.json missing; {hint})")
    return path


def load_for_generation(directory: Path) -> tuple[Any, Any]:
    """(model, tokenizer) from a save_pretrained directory, cached."""
    key = (str(directory.resolve()), (directory / "config.json").stat().st_mtime_ns)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    from transformers import AutoModelForCausalLM

    from gitlm.train.models import load_tokenizer, quiet_transformers

    quiet_transformers()
    tokenizer = load_tokenizer(directory, "model's")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(directory))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise BadInputError(f"{directory} is not a causal language model transformers can load: {exc}") from None
    model.eval()
    with _LOCK:
        _CACHE[key] = (model, tokenizer)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model, tokenizer


def generate(
    prompt: str,
    *,
    model: str | Path | None = None,
    workspace: str | Path | None = None,
    max_new_tokens: int = 64,
    temperature: float = 0.8,
    top_p: float = 0.95,
    num_return_sequences: int = 1,
    seed: int | None = None,
) -> list[Generation]:
    """Continue `prompt` with the workspace model (or the model directory `model`).

    temperature 0 decodes greedily (then every returned sequence is the same); otherwise
    nucleus sampling with `top_p`. `seed` makes sampling reproducible.
    """
    if max_new_tokens <= 0 or num_return_sequences <= 0:
        raise BadInputError("max_new_tokens and num_return_sequences must be positive")
    if temperature < 0 or not 0 < top_p <= 1:
        raise BadInputError("temperature must be >= 0 and top_p in (0, 1]")
    loaded_model, tokenizer = load_for_generation(model_directory(model, workspace))
    return generate_with(loaded_model, tokenizer, prompt, max_new_tokens=max_new_tokens, temperature=temperature,
                         top_p=top_p, num_return_sequences=num_return_sequences, seed=seed)


def generate_with(model, tokenizer, prompt: str | list[int], *, max_new_tokens: int = 64, temperature: float = 0.8,
                  top_p: float = 0.95, num_return_sequences: int = 1, seed: int | None = None) -> list[Generation]:
    """The same with a model already in memory (the trainer's samples use it)."""
    import torch

    if isinstance(prompt, str):
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        prompt_text = prompt
    else:
        ids = list(prompt)
        prompt_text = tokenizer.decode(ids, skip_special_tokens=False)
    if not ids:  # an empty prompt starts a new document
        ids = [tokenizer.eos_token_id]
    limit = int(getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 0) or 0)
    if limit and len(ids) + max_new_tokens > limit:
        max_new_tokens = min(max_new_tokens, limit - 1)  # the context window bounds prompt + output
        ids = ids[-(limit - max_new_tokens):]  # keep the end of a long prompt
    device = next(model.parameters()).device
    input_ids = torch.tensor([ids], device=device)
    sample = temperature > 0
    with _GENERATE_LOCK:
        output = _generate_locked(model, tokenizer, input_ids, max_new_tokens, sample, temperature, top_p,
                                  num_return_sequences, seed)
    results = []
    for row in output[:, input_ids.shape[1]:].tolist():
        finished = tokenizer.eos_token_id in row
        if finished:
            row = row[: row.index(tokenizer.eos_token_id)]
        completion = tokenizer.decode(row, skip_special_tokens=False)
        for special in {tokenizer.pad_token, tokenizer.eos_token} - {None}:
            completion = completion.replace(special, "")
        results.append(Generation(prompt_text, completion, prompt_text + completion, len(row), finished))
    return results


def _generate_locked(model, tokenizer, input_ids, max_new_tokens, sample, temperature, top_p, num_return_sequences, seed):
    import torch

    generator_state = None
    if seed is not None:
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
    try:
        with torch.no_grad():
            output = model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new_tokens,
                do_sample=sample, temperature=temperature if sample else None, top_p=top_p if sample else None,
                top_k=0 if sample else None, num_return_sequences=num_return_sequences,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            )
    finally:
        if generator_state is not None:
            torch.random.set_rng_state(generator_state)
    return output
