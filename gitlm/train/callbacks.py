"""Callbacks around the training loop: the step/epoch history for the report, atomic
checkpoint files, a checkpoint on Ctrl-C, and a hook for the CLI's progress line."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save into a temporary file, fsync, rename: a killed or failed run leaves the
    previous checkpoint intact, never half of a new one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            with open(temp, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise


class TrainingHistory(Callback):
    """Per optimizer step: loss, LR, gradient norm, tokens, seconds; per epoch and per
    validation: losses. Its state goes into checkpoints, so a resumed run's report covers the
    whole training, not only the part after the resume."""

    def __init__(self, on_step: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.steps: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.validations: list[dict[str, Any]] = []
        self.train_seconds = 0.0
        self.train_tokens = 0
        self.on_step = on_step
        self._pending = self._fresh()
        self._batch_start = 0.0
        self._last_end: float | None = None
        self._lr: float | None = None

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {"nll": 0.0, "supervised": 0, "tokens": 0, "seconds": 0.0}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # A step's seconds run from the previous batch's end (so fetching the batch and the
        # loop's own work count), or from this batch's start after an epoch or validation break.
        self._batch_start = self._last_end if self._last_end is not None else time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._last_end = None

    def on_validation_start(self, trainer, pl_module) -> None:
        self._last_end = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self._lr = float(optimizer.param_groups[0]["lr"])  # the LR this step uses

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._last_end = time.perf_counter()
        seconds = self._last_end - self._batch_start
        pending = self._pending
        supervised = int(outputs["supervised"])
        pending["nll"] += float(outputs["nll"])
        pending["supervised"] += supervised
        pending["tokens"] += int(outputs["tokens"])
        pending["seconds"] += seconds
        self.train_seconds += seconds
        self.train_tokens += int(outputs["tokens"])
        if trainer.global_step == (self.steps[-1]["step"] if self.steps else 0):
            return  # accumulating: no optimizer step yet
        record = {
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "loss": round(pending["nll"] / max(pending["supervised"], 1), 6),
            "lr": self._lr,
            "grad_norm": None if pl_module.last_grad_norm is None else round(pl_module.last_grad_norm, 6),
            "tokens": pending["tokens"],
            "seconds": round(pending["seconds"], 6),
        }
        self.steps.append(record)
        self._pending = self._fresh()
        if self.on_step is not None:
            self.on_step(dict(record, total_steps=pl_module.total_steps))

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        if "val_loss" not in metrics:
            return
        loss = float(metrics["val_loss"])
        self.validations.append({
            "step": trainer.global_step, "epoch": trainer.current_epoch, "loss": round(loss, 6),
            "perplexity": _perplexity(loss), "token_accuracy": round(float(metrics["val_accuracy"]), 6),
        })

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        in_epoch = [s for s in self.steps if s["epoch"] == trainer.current_epoch]
        if not in_epoch:
            return
        record = {
            "epoch": trainer.current_epoch,
            "steps": len(in_epoch),
            "train_loss": round(float(trainer.callback_metrics.get("train_loss_epoch", float("nan"))), 6),
            "val_loss": None,
            "seconds": round(sum(s["seconds"] for s in in_epoch), 3),
        }
        latest = [v for v in self.validations if v["epoch"] == trainer.current_epoch]
        if latest:
            record["val_loss"] = latest[-1]["loss"]
        self.epochs = [e for e in self.epochs if e["epoch"] != record["epoch"]] + [record]

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "epochs": self.epochs, "validations": self.validations,
                "train_seconds": self.train_seconds, "train_tokens": self.train_tokens}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = list(state.get("steps", []))
        self.epochs = list(state.get("epochs", []))
        self.validations = list(state.get("validations", []))
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.train_tokens = int(state.get("train_tokens", 0))


class CheckpointOnInterrupt(Callback):
    """Ctrl-C during training writes last.ckpt, so `--resume last` picks up from there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved = False

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt) and trainer.global_step > 0:
            trainer.save_checkpoint(self.path)
            self.saved = True


def _perplexity(loss: float) -> float | None:
    if not math.isfinite(loss):
        return None
    return round(math.exp(min(loss, 700.0)), 4)
