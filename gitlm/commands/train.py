"""`gitlm train`: workspace tokens -> model/ and report/ (PyTorch Lightning)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Optional

import typer

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, err, out
from gitlm.config import load_config


@app.command()
def train(
    workspace: WorkspaceOption = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="tiny | small | gpt2 | gpt2-medium (GPT-2 from scratch) | smollm2-135m | PATH (fine-tune) (default tiny).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (default: the epoch formula in MANIFEST.json).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after N optimizer steps (smoke runs, demos).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sequences per device and step (default by GPU memory; 2 on CPU).")] = None,
    gradient_accumulation: Annotated[Optional[int], typer.Option(help="Micro-batches per optimizer step (default 1).")] = None,
    learning_rate: Annotated[Optional[float], typer.Option(help="Peak LR (default: preset base LR x batch / 8).")] = None,
    lora: Annotated[Optional[bool], typer.Option("--lora/--no-lora", help="Train LoRA adapters only (pretrained models).")] = None,
    lora_r: Annotated[Optional[int], typer.Option(help="LoRA rank (default 8).")] = None,
    lora_alpha: Annotated[Optional[int], typer.Option(help="LoRA alpha (default 16).")] = None,
    quantize: Annotated[Optional[str], typer.Option(help="none | 8bit | 4bit: load pretrained weights quantized (bitsandbytes, CUDA).")] = None,
    gradient_checkpointing: Annotated[Optional[bool], typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help="Recompute activations to save memory.")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue from a checkpoint: last, best or a .ckpt path.")] = None,
    evaluate: Annotated[bool, typer.Option("--evaluate", help="Only evaluate (the workspace model, --model PATH or --resume CKPT) and write the report.")] = False,
    devices: Annotated[Optional[str], typer.Option(help="GPUs to use: auto, N or -1 (all).")] = None,
    strategy: Annotated[Optional[str], typer.Option(help="auto | ddp | fsdp.")] = None,
    num_nodes: Annotated[Optional[int], typer.Option(help="Machines (multi-node).")] = None,
    precision: Annotated[Optional[str], typer.Option(help="32-true | bf16-mixed | 16-mixed | ... (default bf16/16-mixed on GPU, 32-true on CPU).")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch (default: all usable CPUs).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Data-loader workers (default min(8, cpus // 2)).")] = None,
    data: Annotated[Optional[str], typer.Option(help="auto | tokens | dataset (default auto: dataset/ when built).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final figures as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every step's loss, LR, gradient norm and tokens/s.")] = False,
    config_file: ConfigOption = None,
) -> None:
    """Train a model on the workspace's tokens (or fine-tune one) and write model/ and report/."""
    from gitlm.train import train as run_training

    config = load_config(config_file, {"train": {
        "model": model, "epochs": epochs, "max_steps": max_steps, "batch_size": batch_size,
        "gradient_accumulation": gradient_accumulation, "learning_rate": learning_rate, "lora": lora,
        "lora_r": lora_r, "lora_alpha": lora_alpha, "quantize": quantize, "gradient_checkpointing": gradient_checkpointing,
        "devices": devices, "strategy": strategy, "num_nodes": num_nodes, "precision": precision,
        "threads": threads, "workers": workers, "data": data,
    }})
    printer = _StepPrinter(verbose)
    result = run_training(workspace, config, resume=resume, evaluate_only=evaluate, on_step=printer,
                          on_status=lambda line: err.print(f"[dim]{line}[/]"))
    printer.close()
    report = result.report
    final, training = report["final"], report["training"]
    if as_json:
        report_file = result.report_dir / ("evaluation.json" if evaluate else "report.html")
        out.print_json(json.dumps({"final": final, "training": training, "model": str(result.model_dir),
                                   "report": str(report_file)}))
        return
    described = report["model"]
    what = "evaluated" if evaluate else f"trained {described['preset']}"
    out.print(
        f"{what} ({described['parameters']:,} parameters, {described['trainable_parameters']:,} trained) "
        f"{training['global_step']:,} steps, {training['stopped_because']}; "
        f"{_num(training['tokens_per_second'])} tokens/s", soft_wrap=True
    )
    out.print(
        f"val perplexity {_num(final['val_perplexity'])} (unigram {_num(final['unigram_val_perplexity'])}), "
        f"token accuracy {_num(final['val_token_accuracy'])}; "
        f"test perplexity {_num(final['test_perplexity'])} (unigram {_num(final['unigram_test_perplexity'])})",
        soft_wrap=True,
    )
    if evaluate:
        out.print(f"-> {result.report_dir / 'evaluation.json'}", soft_wrap=True)
    else:
        out.print(f"-> model {result.model_dir}  report {result.report_dir / 'report.html'}", soft_wrap=True)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


class _StepPrinter:
    """A progress bar on a terminal; with --verbose (or no terminal) one line per step or
    every tenth of the run."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.progress = None
        self.task = None
        self.last_print = 0.0

    def __call__(self, record: dict[str, Any]) -> None:
        total = record["total_steps"]
        rate = record["tokens"] / record["seconds"] if record["seconds"] else 0.0
        line = (f"step {record['step']:,}/{total:,}  loss {record['loss']:.4f}  lr {record['lr']:.2e}  "
                f"|g| {_num(record['grad_norm'])}  {rate:,.0f} tok/s")
        if self.verbose:
            err.print(line, highlight=False)
            return
        if err.is_terminal:
            if self.progress is None:
                from gitlm.commands.base import progress_bar

                self.progress = progress_bar("train", "steps")
                self.progress.start()
                self.task = self.progress.add_task("train", total=total)
            self.progress.update(self.task, completed=record["step"], total=total)
            return
        now = time.monotonic()
        if record["step"] == total or now - self.last_print >= 30:
            self.last_print = now
            err.print(line, highlight=False)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
