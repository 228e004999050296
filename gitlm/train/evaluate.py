"""Held-out evaluation: perplexity and next-token accuracy of the model, and the perplexity
a unigram model of the training tokens gets on the very same tokens (the floor any model
that learned something must beat)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from gitlm.train.data import IGNORE
from gitlm.train.module import token_loss


@dataclass
class Evaluation:
    split: str
    tokens: int  # supervised tokens evaluated
    loss: float | None
    perplexity: float | None
    token_accuracy: float | None
    unigram_perplexity: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def unigram_log_probs(counts: np.ndarray) -> np.ndarray:
    """Add-one smoothed log p(token) over the whole vocabulary (unseen ids get a count of 1)."""
    counts = counts.astype(np.float64) + 1.0
    return np.log(counts / counts.sum())


def perplexity(loss: float | None) -> float | None:
    if loss is None or not math.isfinite(loss):
        return None
    return round(math.exp(min(loss, 700.0)), 4)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, split: str, unigram: np.ndarray, *, device: torch.device,
             autocast_dtype: torch.dtype | None = None, max_batches: int | None = None) -> Evaluation:
    """Token-weighted loss/accuracy over every supervised token of `loader` (or its first
    `max_batches` batches)."""
    was_training = model.training
    model.eval()
    nll = correct = count = 0
    unigram_nll = 0.0
    table = torch.from_numpy(unigram)
    autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None
                else contextlib.nullcontext())
    try:
        for index, batch in enumerate(loader):
            if max_batches is not None and index >= max_batches:
                break
            batch = {k: v.to(device) for k, v in batch.items()}
            with autocast:
                batch_nll, batch_count, batch_correct = token_loss(model, batch)
            nll += float(batch_nll)
            count += int(batch_count)
            correct += int(batch_correct)
            labels = batch["labels"][:, 1:].reshape(-1).cpu()
            labels = labels[labels != IGNORE]
            unigram_nll -= float(table[labels.clamp(max=len(table) - 1)].sum())
    finally:
        model.train(was_training)
    if not count:
        return Evaluation(split, 0, None, None, None, None)
    loss = nll / count
    return Evaluation(
        split=split, tokens=count, loss=round(loss, 6), perplexity=perplexity(loss),
        token_accuracy=round(correct / count, 6), unigram_perplexity=perplexity(unigram_nll / count),
    )
