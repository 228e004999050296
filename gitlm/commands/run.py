"""`gitlm run`: every phase, in order, skipping what is already up to date."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress

from gitlm.commands.base import ConfigOption, app, err, out, progress_bar
from gitlm.config import load_config

_MARKS = {"completed": "[green]done[/]", "skipped": "[dim]skip[/]", "failed": "[bold red]FAIL[/]"}


class _Console:
    """The pipeline's observer: a progress bar per phase on a terminal, one line after each."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.progress: Progress | None = None
        self.task = None

    def phase_started(self, phase: str, unit: str) -> None:
        self.progress = progress_bar(phase, unit)
        self.progress.start()
        self.task = self.progress.add_task(phase, total=None)

    def phase_progress(self, completed: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=completed, total=total)

    def phase_finished(self, result) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        mark = _MARKS.get(result.status, result.status)
        if result.status == "failed":
            text = result.error
        elif result.status == "skipped":
            text = f"{result.reason}" + (f": {result.summary}" if result.summary and self.verbose else "")
        else:
            text = f"{result.summary}  [dim]({result.seconds:.1f} s)[/]"
        out.print(f"{mark} [bold]{result.phase:<8}[/] {text}", soft_wrap=True, highlight=False)

    def note(self, line: str) -> None:
        err.print(f"[dim]{line}[/]", soft_wrap=True, highlight=False)


@app.command()
def run(
    repo: Annotated[Path, typer.Argument(help="Repository to process (default: the current directory).")] = Path("."),
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Workspace directory (default ./gitlm-out/<repo-name>/).")] = None,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Run only these phases (repeat or comma-separate): analyze, scrape, chunk, tokenize, dataset, embed, train, report.")] = None,
    skip: Annotated[Optional[list[str]], typer.Option("--skip", help="Leave out these phases (repeat or comma-separate).")] = None,
    continue_on_error: Annotated[bool, typer.Option("--continue-on-error", help="Record a failed phase and go on with the phases that do not need its output.")] = False,
    train_mode: Annotated[str, typer.Option("--train", help="fresh: train from scratch when the data changed; continue: go on from the workspace's model (tokenizer kept); skip: no training.")] = "fresh",
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model to train (train.model): tiny, small, gpt2, gpt2-medium, smollm2-135m or PATH (default tiny).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop training after N optimizer steps (train.max_steps).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more: the plan's details and skipped phases' summaries.")] = False,
    config_file: ConfigOption = None,
) -> None:
    """Run every phase (analyze, scrape, chunk, tokenize, dataset, embed, train, report) on a repository.

    A re-run skips the phases whose inputs did not change and, after new commits, scrapes,
    chunks and embeds only the new ones.
    """
    from gitlm.pipeline import Pipeline

    config = load_config(config_file, {"out": out_dir, "train": {"model": model, "max_steps": max_steps}})
    pipeline = Pipeline(repo, config, only=only, skip=skip, continue_on_error=continue_on_error,
                        train_mode=train_mode, observer=_Console(verbose))
    result = pipeline.run()
    ws = result.workspace.root
    failed = result.failed
    out.print(f"\n{len(result.phases) - len(failed)} of {len(result.phases)} phases ok in {result.seconds:.1f} s; "
              f"outputs in {ws}/ (MANIFEST.json lists them)", soft_wrap=True, highlight=False)
    if (ws / "index").is_dir():
        out.print(f"try: gitlm search \"fix a crash\" --workspace {shlex.quote(str(ws))}", soft_wrap=True,
                  highlight=False, markup=False)
    if (ws / "report" / "index.html").is_file():
        out.print(f"report: {ws / 'report' / 'index.html'}", soft_wrap=True, highlight=False)
    if failed:
        raise typer.Exit(1)
