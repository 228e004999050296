"""`gitlm train` as a library function: workspace tokens -> a trained model in model/, a
report in report/, and the phase recorded in MANIFEST.json.

The order of work: check the cheap things first (preset, tokens, checkpoint) so bad input
fails before torch loads; then hardware defaults, model, data, Lightning fit; then, on the
main process only, choose the best weights, evaluate val and test against the unigram
baseline, export model/ (LoRA merged), generate samples and write the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitlm.config import GitlmConfig
from gitlm.errors import BadInputError, GitlmError
from gitlm.train.presets import ModelPreset, resolve_model
from gitlm.workspace import PhaseTimer, Workspace, find_workspace, fingerprint, library_versions, utc_now

CHECKPOINTS = "model/checkpoints"
EVALUATION_REPORT = "evaluation.json"
EPOCH_FORMULA = {"target_tokens": 20_000_000, "min_epochs": 3, "max_epochs": 10}


class TrainingInterrupted(GitlmError):
    """Ctrl-C: the checkpoint is saved; `--resume last` continues."""

    exit_code = 130


@dataclass
class TrainResult:
    workspace: Workspace
    report: dict[str, Any]
    model_dir: Path
    report_dir: Path

    @property
    def final(self) -> dict[str, Any]:
        return self.report["final"]


def train(
    workspace: Workspace | Path | str | None = None,
    config: GitlmConfig | None = None,
    *,
    resume: str | Path | None = None,
    evaluate_only: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train (or with `evaluate_only`, only evaluate) a model on a workspace's tokens.

    `resume` is a checkpoint path, or "last"/"best" for the workspace's own checkpoints; the
    run continues with the optimizer, scheduler, RNG, data position and global step saved in
    it. `on_step` receives each optimizer step's record (step, loss, lr, grad_norm, tokens,
    seconds, total_steps); `on_status` receives one-line notes on slow preparations.
    """
    config = config or GitlmConfig()
    settings = config.train
    preset = resolve_model(settings.model)
    if (settings.lora or settings.quantize != "none") and not preset.pretrained:
        raise BadInputError(
            f"--lora/--quantize adapt pretrained weights; '{preset.name}' trains GPT-2 from scratch "
            "(use --model smollm2-135m or a PATH)"
        )
    if isinstance(workspace, Workspace):
        ws = workspace
    else:
        ws = find_workspace(Path(workspace) if workspace is not None else None, config.out)
    from gitlm.train.tokens import read_token_meta

    meta = read_token_meta(ws)
    checkpoint = resolve_checkpoint(ws, resume) if resume is not None else None
    if not ws.path("tokenizer").is_dir():
        raise BadInputError(f"no tokenizer in workspace {ws.root} (tokenizer/ is missing); run `gitlm tokenize` first")
    with ws.lock():
        return _Run(ws, config, preset, meta, checkpoint, evaluate_only, on_step, on_status or (lambda _: None)).execute()


def resolve_checkpoint(ws: Workspace, resume: str | Path) -> Path:
    """"last", "best" or a path, as an existing checkpoint file."""
    name = str(resume)
    path = ws.path(f"{CHECKPOINTS}/{name}.ckpt") if name in ("last", "best") else Path(name).expanduser()
    if not path.is_file():
        raise BadInputError(f"checkpoint {path} does not exist" + (" (no earlier run saved one)" if name in ("last", "best") else ""))
    return path


def epochs_from_manifest(ws: Workspace, total_tokens: int) -> tuple[int, dict[str, Any]]:
    """The tokenizer's epoch formula result, or the same formula computed here."""
    parameters = ws.read_manifest().get("training_parameters") or {}
    if isinstance(parameters.get("epochs"), int) and parameters["epochs"] > 0:
        return parameters["epochs"], dict(parameters.get("epoch_formula") or {}, source="MANIFEST.json")
    formula = dict(EPOCH_FORMULA, total_tokens=total_tokens)
    epochs = min(max(formula["target_tokens"] // max(total_tokens, 1), formula["min_epochs"]), formula["max_epochs"])
    return int(epochs), dict(formula, source="computed by train (MANIFEST.json has no training_parameters.epochs)")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text
        or "DefaultCPUAllocator" in text
    )


class _Run:
    """One training run; attributes are the resolved choices the report records."""

    def __init__(self, ws: Workspace, config: GitlmConfig, preset: ModelPreset, meta: dict[str, Any],
                 checkpoint: Path | None, evaluate_only: bool, on_step, on_status) -> None:
        self.ws, self.config, self.settings, self.preset, self.meta = ws, config, config.train, preset, meta
        self.checkpoint, self.evaluate_only = checkpoint, evaluate_only
        self.on_step, self.status = on_step, on_status
        self.notes: list[str] = []
        self.timer = PhaseTimer()

    # -- setup ---------------------------------------------------------------------------------

    def execute(self) -> TrainResult:
        import torch
        from lightning.pytorch import seed_everything

        from gitlm.train.hardware import HardwareMonitor, detect_hardware
        from gitlm.train.models import load_tokenizer, quiet_transformers

        _quiet_lightning()
        quiet_transformers()
        s = self.settings
        self.hw = detect_hardware()
        self.threads = s.threads or self.hw.cpus
        torch.set_num_threads(self.threads)
        seed_everything(s.seed, verbose=False)
        self.ws_tokenizer = load_tokenizer(self.ws.path("tokenizer"), "workspace")
        if int(self.meta["vocab_size"]) > len(self.ws_tokenizer):
            raise BadInputError(
                f"tokens/meta.json says vocab_size {self.meta['vocab_size']} but tokenizer/ has {len(self.ws_tokenizer)} "
                "tokens; re-run `gitlm tokenize`"
            )
        self.monitor = HardwareMonitor(s.monitor_interval)
        self.monitor.start()
        try:
            with warnings.catch_warnings():
                _ignore_noise_warnings()
                self.loaded = self._model()
                self.model_description = self.loaded.describe()  # before LoRA is merged away at export
                self.datamodule = self._data()
                self._hyperparameters()
                self._fit()
                if not self.trainer.is_global_zero:
                    return TrainResult(self.ws, {}, self.ws.path("model"), self.ws.path("report"))
                return self._finish()
        finally:
            self.monitor.stop()

    def _model(self):
        from gitlm.train.models import build_scratch, load_pretrained

        s = self.settings
        preset = self.preset
        if self.evaluate_only and not preset.pretrained and self.checkpoint is None:
            model_dir = self.ws.path("model")
            if not (model_dir / "config.json").is_file():
                raise BadInputError(f"--evaluate needs a trained model: {model_dir} has none (train first, or pass --model PATH or --resume CKPT)")
            preset = resolve_model(str(model_dir))
            self.preset = preset
        if preset.pretrained:
            if preset.source == "smollm2":
                from gitlm.train.smollm2 import converted_dir

                if not (converted_dir() / "config.json").is_file():
                    self.status(f"converting SmolLM2-135M from GGUF once (about 30 s) into {converted_dir()}")
            return load_pretrained(preset, self.ws_tokenizer, s, gpu=self.hw.gpu_count > 0)
        return build_scratch(preset, self.ws_tokenizer, self._data_length(), s.seed)

    def _data_source(self) -> str:
        from gitlm.train.tokens import dataset_splits

        choice = self.settings.data
        has_dataset = dataset_splits(self.ws) is not None
        if choice == "dataset" and not has_dataset:
            raise BadInputError(f"no dataset in workspace {self.ws.root} (dataset/train.parquet); run `gitlm dataset` or use --data tokens")
        return "dataset" if choice == "dataset" or (choice == "auto" and has_dataset) else "tokens"

    def _data_length(self) -> int:
        from gitlm.train.tokens import dataset_splits, parquet_row_length

        if self._data_source() == "dataset":
            return parquet_row_length(dataset_splits(self.ws)["train"])
        return int(self.meta["sequence_length"])

    def _data(self):
        from gitlm.train.data import (PackedSequences, TrainingData, WindowExamples, retokenized_arrays,
                                      workspace_token_arrays)
        from gitlm.train.tokens import dataset_splits
        from gitlm.train.hardware import default_batch_size, default_workers

        s, loaded = self.settings, self.loaded
        context = min(self._data_length(), loaded.max_positions)
        if loaded.uses_workspace_tokenizer:
            arrays = workspace_token_arrays(self.ws, self.meta, context)
        else:
            self.status("re-tokenizing the workspace documents with the model's tokenizer (cached after the first run)")
            arrays = retokenized_arrays(self.ws, self.meta, self.ws_tokenizer, loaded.tokenizer, context)
        self.arrays = arrays
        self.notes.extend(arrays.notes)
        self.batch_size = s.batch_size or default_batch_size(self.hw)
        self.workers = s.workers if s.workers is not None else default_workers(self.hw)
        source = self._data_source()
        sets = None
        if source == "dataset":
            paths = dataset_splits(self.ws)
            translate = None if loaded.uses_workspace_tokenizer else self._translator()
            cache = self.ws.path("cache/datasets")
            sets = {split: WindowExamples(path, context, loaded.tokenizer.pad_token_id, cache, translate)
                    for split, path in paths.items() if path.is_file()}
            if not len(sets.get("val") or ()) or not len(sets["train"]):
                self.notes.append("dataset/ has an empty train or val split: training on tokens/ instead")
                sets, source = None, "tokens"
        if sets is None:
            pad = arrays.pad_id
            sets = {
                "train": PackedSequences(arrays.train, arrays.sequence_length, arrays.overlap, pad),
                "val": PackedSequences(arrays.val, arrays.sequence_length, arrays.overlap, pad),
                "test": PackedSequences(arrays.test, arrays.sequence_length, arrays.overlap, pad),
            }
            context = arrays.sequence_length
        self.source, self.context = source, context
        self.sets = sets
        return TrainingData(sets["train"], sets["val"], sets.get("test"), batch_size=self.batch_size,
                            workers=self.workers, seed=s.seed, pin_memory=self.hw.gpu_count > 0)

    def _translator(self):
        source, target = self.ws_tokenizer, self.loaded.tokenizer

        def translate(ids: list[int]) -> list[int]:
            if not ids:
                return []
            return target(source.decode(ids, skip_special_tokens=False), add_special_tokens=False)["input_ids"]

        return translate

    def _hyperparameters(self) -> None:
        from gitlm.train.hardware import default_precision

        s = self.settings
        if self.hw.gpu_count:
            self.devices = self.hw.gpu_count if s.devices in ("auto", "-1") else int(s.devices)
        else:
            self.devices = 1  # one CPU process; its threads use every core
        self.world = self.devices * s.num_nodes
        self.effective_batch = self.batch_size * s.gradient_accumulation * self.world
        base = self.preset.lora_base_lr if self.loaded.lora else self.preset.base_lr
        self.learning_rate = s.learning_rate or base * self.effective_batch / 8
        total_tokens = int(self.meta.get("total_tokens") or sum(int(v.get("tokens") or 0) for v in self.meta["splits"].values()))
        if s.epochs:
            self.epochs, self.epoch_formula = s.epochs, {"source": "--epochs"}
        else:
            self.epochs, self.epoch_formula = epochs_from_manifest(self.ws, total_tokens)
        self.precision = s.precision or default_precision(self.hw)

    # -- training ------------------------------------------------------------------------------

    def _fit(self) -> None:
        import lightning as L
        from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

        from gitlm.train.callbacks import AtomicCheckpointIO, CheckpointOnInterrupt, TrainingHistory
        from gitlm.train.module import CausalLM

        s = self.settings
        self.module = CausalLM(
            self.loaded.model, learning_rate=self.learning_rate, weight_decay=s.weight_decay,
            warmup_ratio=s.warmup_ratio, warmup_min_steps=s.warmup_min_steps, warmup_max_steps=s.warmup_max_steps,
            grad_clip=s.grad_clip,
        )
        self.module.metadata = self._checkpoint_metadata()
        if self.checkpoint is not None:
            self._check_resumable(self.checkpoint)
        folder = self.ws.path(CHECKPOINTS)
        self.history = TrainingHistory(self.on_step)
        self.best = ModelCheckpoint(dirpath=folder, filename="best", monitor="val_loss", mode="min", save_top_k=1,
                                    auto_insert_metric_name=False, enable_version_counter=False,
                                    save_on_train_epoch_end=False)
        self.last = ModelCheckpoint(dirpath=folder, filename="last", monitor=None, save_top_k=1,
                                    every_n_train_steps=s.checkpoint_every_steps, enable_version_counter=False)
        callbacks = [self.history, self.best, self.last, CheckpointOnInterrupt(folder / "last.ckpt")]
        self.early = None
        if s.early_stopping_patience:
            self.early = EarlyStopping(monitor="val_loss", mode="min", patience=s.early_stopping_patience,
                                       min_delta=s.early_stopping_min_delta, check_on_train_epoch_end=False)
            callbacks.append(self.early)
        val_every = {"val_check_interval": 1.0}
        if s.eval_every_steps:
            val_every = {"val_check_interval": s.eval_every_steps * s.gradient_accumulation, "check_val_every_n_epoch": None}
        self.trainer = L.Trainer(
            accelerator="gpu" if self.hw.gpu_count else "cpu",
            devices=self.devices,
            strategy=s.strategy, num_nodes=s.num_nodes, precision=self.precision,
            max_epochs=self.epochs, max_steps=s.max_steps or -1,
            accumulate_grad_batches=s.gradient_accumulation, gradient_clip_val=s.grad_clip,
            limit_val_batches=s.max_eval_batches or 1.0, num_sanity_val_steps=0,
            callbacks=callbacks, plugins=[AtomicCheckpointIO()], logger=False,
            enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(folder),
            **val_every,
        )
        if self.evaluate_only:
            if self.checkpoint is not None:
                self._load_weights(self.checkpoint)
            return
        try:
            self.trainer.fit(self.module, datamodule=self.datamodule,
                             ckpt_path=str(self.checkpoint) if self.checkpoint else None)
        except SystemExit:  # Lightning's answer to Ctrl-C, after CheckpointOnInterrupt ran
            raise TrainingInterrupted(
                f"interrupted at step {self.trainer.global_step}; checkpoint saved to {folder / 'last.ckpt'}; "
                "continue with `gitlm train --resume last`"
            ) from None
        except Exception as exc:
            if is_out_of_memory(exc):
                smaller = max(1, self.batch_size // 2)
                hint = (f"try --batch-size {smaller}" if self.batch_size > 1 else "try a smaller model")
                raise BadInputError(
                    f"out of memory with batch size {self.batch_size} x {self.context} tokens; {hint}"
                    " or --gradient-checkpointing (checkpoints are untouched)"
                ) from None
            if "checkpoint" in str(exc).lower() and self.checkpoint is not None:
                raise BadInputError(f"cannot resume from {self.checkpoint}: {_first_line(exc)}") from None
            raise
        if self.trainer.global_step > 0:
            self.trainer.save_checkpoint(folder / "last.ckpt")  # the exact end state, for --resume

    def _checkpoint_metadata(self) -> dict[str, Any]:
        vocabulary = fingerprint(self.loaded.tokenizer.backend_tokenizer.to_str())
        return {"model": self.model_description, "tokenizer": vocabulary, "context": self.context, "data": self.source,
                "batch_size": self.batch_size, "gitlm": library_versions()["gitlm"]}

    def _check_resumable(self, path: Path) -> None:
        """A checkpoint of another model or context length cannot continue this run."""
        import torch

        try:
            saved = torch.load(path, map_location="cpu", weights_only=False, mmap=True).get("gitlm") or {}
        except Exception as exc:  # truncated, not a checkpoint, not a torch file
            raise BadInputError(f"cannot read checkpoint {path}: {_first_line(exc)}") from None
        before, now = saved.get("model") or {}, self.module.metadata["model"]
        for key in ("architecture", "parameters", "vocab_size", "lora"):
            if key in before and before[key] != now[key]:
                raise BadInputError(
                    f"checkpoint {path} was trained with another model ({key} {before[key]} != {now[key]}); "
                    f"use the same --model as that run (it was '{before.get('preset')}')"
                )
        if saved.get("tokenizer") and saved["tokenizer"] != self.module.metadata["tokenizer"]:
            raise BadInputError(
                f"checkpoint {path} was trained with another tokenizer (the token ids no longer mean the same); "
                "train afresh, or re-tokenize with that run's tokenizer (gitlm tokenize --tokenizer PATH)"
            )

    def _load_weights(self, path: Path) -> None:
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
            self.module.load_state_dict(state["state_dict"])
        except (OSError, RuntimeError, KeyError, EOFError) as exc:
            raise BadInputError(f"cannot load weights from {path}: {_first_line(exc)}") from None

    # -- after training ------------------------------------------------------------------------

    def _finish(self) -> TrainResult:
        import torch

        from gitlm.train.evaluate import evaluate, unigram_log_probs

        device = torch.device("cuda", 0) if self.hw.gpu_count else torch.device("cpu")
        self.module.to(device)
        autocast = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(self.precision) if device.type == "cuda" else None
        vocab = int(self.loaded.base_model.get_input_embeddings().weight.shape[0])
        self.status("evaluating on val and test")
        unigram = unigram_log_probs(self.sets["train"].label_counts(vocab))
        val_loader = self.datamodule.val_dataloader()
        test_loader = self.datamodule.test_loader()

        def run_eval(split, loader):
            if loader is None:
                return None
            return evaluate(self.module.model, loader, split, unigram, device=device, autocast_dtype=autocast,
                            max_batches=self.settings.max_eval_batches)

        val = run_eval("val", val_loader)
        chosen = "final weights"
        best_path = Path(self.best.best_model_path) if self.best.best_model_path else None
        best_score = float(self.best.best_model_score) if self.best.best_model_score is not None else None
        if (not self.evaluate_only and best_path and best_path.is_file() and best_score is not None
                and val.loss is not None and best_score < val.loss - 1e-9):
            self._load_weights(best_path)
            self.module.to(device)
            val = run_eval("val", val_loader)
            chosen = f"best checkpoint (step {self._checkpoint_step(best_path)})"
        test = run_eval("test", test_loader)
        if self.evaluate_only:
            # model/ and the training report stay as they are; the figures go to their own file.
            self.export = self.loaded.model
            report = self._report(val, test, "as loaded", self._samples())
            self.ws.write_json(f"report/{EVALUATION_REPORT}", report)
            weights = self.checkpoint if self.loaded.source == "scratch" else Path(self.loaded.source)
            return TrainResult(self.ws, report, weights, self.ws.path("report"))
        model_dir = self._export()
        report = self._report(val, test, chosen, self._samples())
        from gitlm.train.report import write_report

        files = write_report(self.ws, report)
        self._record(report, files)
        return TrainResult(self.ws, report, model_dir, self.ws.path("report"))

    def _checkpoint_step(self, path: Path) -> int | None:
        import torch

        try:
            return int(torch.load(path, map_location="cpu", weights_only=False, mmap=True)["global_step"])
        except Exception:  # only a label in the report
            return None

    def _export(self) -> Path:
        """save_pretrained into a staging folder, then move each file into model/ (each file
        replaced atomically; stale files of an earlier export removed; checkpoints kept)."""
        from gitlm.train.models import export_model

        target = self.ws.path("model")
        staging = self.ws.path(f"model/.export-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            if self.loaded.lora:
                self.loaded.model.save_pretrained(str(staging / "adapter"))
            if self.loaded.lora and self.settings.quantize != "none":
                # 8/4-bit weights cannot be merged losslessly: model/ holds the adapter, which
                # AutoModelForCausalLM loads on top of the base named in adapter_config.json.
                self.loaded.model.save_pretrained(str(staging))
                self.export = self.loaded.model
            else:
                self.export = export_model(self.loaded)
                if self.settings.gradient_checkpointing:
                    self.export.gradient_checkpointing_disable()
                self.export.save_pretrained(str(staging))
            self.loaded.tokenizer.save_pretrained(str(staging))
            keep = {"checkpoints", staging.name}
            new = {p.name for p in staging.iterdir()}
            for old in target.iterdir():
                if old.name not in keep and old.name not in new and not old.name.startswith(".export-"):
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
            names = sorted(new, key=lambda n: n == "config.json")  # config.json last: it marks a complete model
            for name in names:
                destination = target / name
                if destination.is_dir():
                    shutil.rmtree(destination)
                os.replace(staging / name, destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _samples(self) -> list[dict[str, Any]]:
        from gitlm.train.generation import generate_with

        prompts = self._sample_prompts()
        if not prompts:
            return []
        self.status(f"generating {len(prompts)} samples")
        model = self.export
        model.eval()
        out = []
        for i, prompt in enumerate(prompts):
            for g in generate_with(model, self.loaded.tokenizer, prompt, max_new_tokens=48, temperature=0.8, top_p=0.95,
                                   seed=self.settings.seed + i):
                out.append(g.as_dict())
        return out

    def _sample_prompts(self) -> list[str]:
        """The first tokens of the first held-out documents (test split, else val)."""
        import numpy as np

        from gitlm.train.tokens import open_split

        count = self.settings.samples
        if not count:
            return []
        eos = int(self.meta["eos_token_id"])
        for split in ("test", "val", "train"):
            ids = np.asarray(open_split(self.ws, self.meta, split)[: 1 << 20])
            if not len(ids):
                continue
            documents = [d for d in np.split(ids, np.flatnonzero(ids == eos) + 1) if len(d[d != eos]) >= 4]
            prompts = []
            for document in documents[:count]:
                document = document[document != eos]
                prompts.append(self.ws_tokenizer.decode(document[: min(24, len(document) // 2)].tolist(), skip_special_tokens=False))
            if prompts:
                return prompts
        return []

    def _report(self, val, test, chosen: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
        from dataclasses import asdict

        history = self.history
        steps = history.steps
        peaks = self.monitor.stop()
        last_epoch = steps[-1]["epoch"] if steps else None
        tail = [s for s in steps if s["epoch"] == last_epoch]
        tail_tokens = sum(max(s["tokens"], 1) for s in tail)
        train_loss = round(sum(s["loss"] * max(s["tokens"], 1) for s in tail) / tail_tokens, 6) if tail else None
        lrs = [s["lr"] for s in steps if s["lr"] is not None]
        norms = [s["grad_norm"] for s in steps if s["grad_norm"] is not None]
        trainer = self.trainer
        stopped = "evaluation only" if self.evaluate_only else self._stop_reason()
        s = self.settings
        hardware_peaks = {k: v for k, v in asdict(peaks).items() if k != "history"}
        resolved = dict(
            s.model_dump(mode="json"), batch_size=self.batch_size, learning_rate=self.learning_rate, epochs=self.epochs,
            workers=self.workers, threads=self.threads, precision=self.precision, effective_batch=self.effective_batch,
            warmup_steps=self.module.warmup_steps, total_steps=self.module.total_steps,
        )
        def split_examples(name):
            data = self.sets.get(name)
            return len(data) if data is not None else 0

        return {
            "repository": (self.ws.read_manifest().get("repository") or {}).get("name"),
            "workspace": str(self.ws.root),
            "started_at": self.timer.started_at,
            "finished_at": utc_now(),
            "model": self.model_description | {"weights": chosen, "exported_to": "model/"},
            "data": {
                "source": self.source, "sequence_length": self.context, "overlap": self.arrays.overlap if self.source == "tokens" else 0,
                "train_examples": split_examples("train"), "val_examples": split_examples("val"), "test_examples": split_examples("test"),
                "train_tokens": int(len(self.arrays.train)), "val_tokens": int(len(self.arrays.val)), "test_tokens": int(len(self.arrays.test)),
                "tokenizer": "workspace" if self.loaded.uses_workspace_tokenizer else "model's own (structural tokens added)",
            },
            "config": resolved,
            "epoch_formula": self.epoch_formula,
            "training": {
                "global_step": int(trainer.global_step),
                "epochs": self.epochs,
                "epochs_completed": len(history.epochs),
                "stopped_because": stopped,
                "resumed_from": str(self.checkpoint) if self.checkpoint and not self.evaluate_only else None,
                "train_tokens": history.train_tokens,
                "train_seconds": round(history.train_seconds, 3),
                "tokens_per_second": round(history.train_tokens / history.train_seconds, 1) if history.train_seconds else None,
                "best_val_loss": round(float(self.best.best_model_score), 6) if self.best.best_model_score is not None else None,
                "best_checkpoint": _relative(self.best.best_model_path, self.ws.root),
                "last_checkpoint": _relative(str(self.ws.path(CHECKPOINTS) / "last.ckpt"), self.ws.root),
            },
            "final": {
                "train_loss": train_loss,
                "val_loss": val.loss if val else None,
                "val_perplexity": val.perplexity if val else None,
                "val_token_accuracy": val.token_accuracy if val else None,
                "test_loss": test.loss if test else None,
                "test_perplexity": test.perplexity if test else None,
                "test_token_accuracy": test.token_accuracy if test else None,
                "unigram_val_perplexity": val.unigram_perplexity if val else None,
                "unigram_test_perplexity": test.unigram_perplexity if test else None,
            },
            "evaluation": {"val": val.as_dict() if val else None, "test": test.as_dict() if test else None},
            "history": {"steps": steps, "epochs": history.epochs, "validations": history.validations},
            "learning_rate": {"min": min(lrs) if lrs else None, "max": max(lrs) if lrs else None, "history": lrs},
            "grad_norm": {"min": min(norms) if norms else None, "max": max(norms) if norms else None, "history": norms},
            "hardware": self.hw.as_dict() | {"threads": self.threads, "precision": self.precision,
                                             "peaks": hardware_peaks, "samples": peaks.history},
            "samples": samples,
            "notes": self.notes + ([] if test else ["the test split is empty: no test figures"]),
        }

    def _stop_reason(self) -> str:
        trainer, s = self.trainer, self.settings
        if self.early is not None and self.early.stopped_epoch:
            return f"early stopping (no val-loss improvement of {s.early_stopping_min_delta} in {s.early_stopping_patience} validations)"
        if s.max_steps and trainer.global_step >= s.max_steps:
            return f"max_steps {s.max_steps} reached"
        return f"{self.epochs} epochs completed"

    def _record(self, report: dict[str, Any], files: list[str]) -> None:
        manifest = self.ws.read_manifest()
        parameters = dict(manifest.get("training_parameters") or {})
        parameters.update(
            epochs=parameters.get("epochs", self.epochs), train_epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, workers=self.workers, threads=self.threads,
            gradient_accumulation=self.settings.gradient_accumulation, precision=self.precision,
        )
        stats = dict(report["final"], global_step=report["training"]["global_step"],
                     tokens_per_second=report["training"]["tokens_per_second"],
                     stopped_because=report["training"]["stopped_because"], parameters=report["model"]["parameters"],
                     trainable_parameters=report["model"]["trainable_parameters"])
        self.ws.record_phase(
            "train",
            {
                "status": "completed", **self.timer.finish(),
                "outputs": ["model/", *files],
                "stats": stats,
                "config": self.settings.model_dump(mode="json"),
                "fingerprint": fingerprint(self.meta, self.settings.model_dump(mode="json"), self.preset.name),
                "error": None,
            },
            training_parameters=parameters,
            training_report=dict(report["final"], path="report/training_report.json"),
            versions=dict(manifest.get("versions") or {}) | library_versions("torch", "lightning", "transformers", "peft"),
        )


def _relative(path: str | None, root: Path) -> str | None:
    if not path:
        return None
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(root.resolve()))
    return path


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _ignore_noise_warnings() -> None:
    from lightning.pytorch.utilities.warnings import PossibleUserWarning

    warnings.filterwarnings("ignore", category=PossibleUserWarning)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*fan_in_fan_out is set to False.*")
    warnings.filterwarnings("ignore", message=".*Setting `save_embedding_layers` to `True`.*")

