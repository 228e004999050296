"""The LightningModule: a causal LM, its token-level loss, AdamW with warmup and cosine decay.

It reads like nanoGPT's loop: build the model, compute the loss, log. Everything else
(checkpoints, early stopping, history) lives in callbacks.
"""

from __future__ import annotations

import math
import random
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lightning import LightningModule

from gitlm.train.data import IGNORE


def warmup_steps(total_steps: int, ratio: float = 0.1, minimum: int = 100, maximum: int = 1000) -> int:
    """10% of the steps bounded to [100, 1000], and never more than half the steps."""
    steps = min(max(round(total_steps * ratio), minimum), maximum)
    return max(0, min(steps, total_steps // 2))


def lr_multiplier(step: int, warmup: int, total: int) -> float:
    """Linear warmup from 1/(warmup+1) (no step at LR 0), then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def token_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sum of next-token NLL, supervised tokens, correct argmax predictions) for a batch.

    Labels of -100 (padding, overlap context, a dataset row's context) never count.
    """
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    logits = logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE, reduction="sum")
    correct = ((logits.argmax(-1) == labels) & mask).sum()
    return nll, mask.sum(), correct


class CausalLM(LightningModule):
    """Trains `model` (a transformers causal LM, possibly wrapped by peft)."""

    def __init__(self, model: torch.nn.Module, *, learning_rate: float, weight_decay: float = 0.01,
                 warmup_ratio: float = 0.1, warmup_min_steps: int = 100, warmup_max_steps: int = 1000,
                 grad_clip: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup = (warmup_ratio, warmup_min_steps, warmup_max_steps)
        self.grad_clip = grad_clip
        self.last_grad_norm: float | None = None
        self.warmup_steps = 0
        self.total_steps = 0
        self.metadata: dict[str, Any] = {}

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        nll, count, _ = token_loss(self.model, batch)
        tokens = count.clamp(min=1)
        loss = nll / tokens
        self.log("train_loss", loss, on_step=True, on_epoch=True, batch_size=int(tokens))
        # Lightning divides "loss" by the accumulation count; the history reads "nll" instead.
        return {"loss": loss, "nll": nll.detach(), "tokens": int(batch["attention_mask"].sum()), "supervised": int(count)}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        nll, count, correct = token_loss(self.model, batch)
        tokens = int(count.clamp(min=1))
        self.log("val_loss", nll / tokens, batch_size=tokens, sync_dist=True)
        self.log("val_accuracy", correct.float() / tokens, batch_size=tokens, sync_dist=True)

    def configure_optimizers(self) -> dict[str, Any]:
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        # Decay matrices (weights, embeddings), not biases and norm gains (nanoGPT's rule).
        groups = [
            {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": self.weight_decay},
            {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=self.learning_rate, betas=(0.9, 0.95), eps=1e-8)
        self.total_steps = max(1, int(self.trainer.estimated_stepping_batches))
        self.warmup_steps = warmup_steps(self.total_steps, *self.warmup)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, partial(lr_multiplier, warmup=self.warmup_steps, total=self.total_steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        # One pass clips and measures: the norm before clipping goes into the history.
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not params:
            self.last_grad_norm = None
            return
        if self.trainer.strategy.__class__.__name__.startswith("FSDP"):
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
            self.last_grad_norm = None  # sharded: the local norm would be misleading
            return
        norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.last_grad_norm = float(norm)

    # -- exact resume: the RNG streams (dropout) travel with the checkpoint ---------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gitlm"] = self.metadata  # what was trained, so a resume can check it matches
        checkpoint["gitlm_rng"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            # numpy/python states as plain lists, so the checkpoint loads with weights_only=True
            "numpy": _numpy_state_out(np.random.get_state()),
            "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("gitlm_rng")
        if not state:
            return
        torch.set_rng_state(state["torch"])
        if state["cuda"] is not None and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        np.random.set_state(_numpy_state_in(state["numpy"]))
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))


def _numpy_state_out(state: tuple) -> list:
    name, keys, pos, has_gauss, cached = state
    return [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)]


def _numpy_state_in(state: list) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return (name, np.asarray(keys.numpy(), dtype=np.uint32), pos, has_gauss, cached)
