"""`gitlm tokenize`: commits.jsonl (or chunks.jsonl) -> tokenizer/ + tokens/."""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, err, out, print_figures, progress_bar
from gitlm.config import load_config


@app.command()
def tokenize(
    strategy: Annotated[Optional[str], typer.Option("--strategy", "-s", help="semantic | hierarchical | diff-aware | flat | chunks (default semantic).")] = None,
    tokenizer: Annotated[Optional[str], typer.Option("--tokenizer", "-t", help="repo-bpe | gpt2 | PATH to a tokenizer directory (default repo-bpe).")] = None,
    vocab_size: Annotated[Optional[int], typer.Option(help="repo-bpe vocabulary size (default: scaled to the corpus).")] = None,
    sequence_length: Annotated[Optional[int], typer.Option(help="Ids per training sequence (default 1024).")] = None,
    overlap: Annotated[Optional[int], typer.Option(help="Ids shared by consecutive sequences (default 128).")] = None,
    split: Annotated[Optional[str], typer.Option(help="Temporal train/val/test percentages (default 70/15/15).")] = None,
    exports: Annotated[Optional[bool], typer.Option("--json", help="Also write token_sequences.json and tokenized_commits.jsonl.")] = None,
    dedup: Annotated[Optional[bool], typer.Option("--dedup/--no-dedup", help="Drop near-duplicate documents (privacy.dedup) (default on).")] = None,
    show_stats: Annotated[bool, typer.Option("--stats", help="Print the token statistics.")] = False,
    workspace_dir: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Tokenize each commit (or chunk) and pack the ids into chronological train/val/test memmaps.

    Writes tokenizer/ (AutoTokenizer layout) and tokens/{train,val,test}.bin + meta.json.
    """
    from gitlm.tokenize import tokenize_workspace
    from gitlm.workspace import find_workspace

    config = load_config(config_file, {
        "tokenize": {
            "strategy": strategy, "tokenizer": tokenizer, "vocab_size": vocab_size,
            "sequence_length": sequence_length, "overlap": overlap, "split": split, "exports": exports,
        },
        "privacy": {"dedup": dedup},
    })
    workspace = find_workspace(workspace_dir, config.out)
    started = time.perf_counter()
    with progress_bar("tokenize", "documents") as progress:
        task = progress.add_task("tokenize", total=None)

        def on_progress(stage: str, done: int, total: int | None) -> None:
            progress.update(task, description=stage, completed=done, total=total)

        stats = tokenize_workspace(workspace, config, progress=on_progress)
    seconds = time.perf_counter() - started
    figures = stats.as_dict()
    out.print(
        f"tokenized {figures['documents']:,} documents ({figures['strategy']}) into {figures['total_tokens']:,} tokens, "
        f"{figures['sequences']:,} sequences of {figures['sequence_length']} in {seconds:.1f} s "
        f"-> {workspace.path('tokens')}"
    )
    if figures["near_duplicates_removed"]:
        err.print(f"note: {figures['near_duplicates_removed']:,} near-duplicate documents left out", markup=False, highlight=False)
    if show_stats:
        _print_stats(figures)


def _print_stats(figures: dict[str, Any]) -> None:
    per_doc = figures["tokens_per_document"]
    print_figures("tokens", [
        ("tokenizer", f"{figures['tokenizer']} ({figures['vocab_size']:,} ids)"),
        ("documents", f"{figures['documents']:,} of {figures['documents_read']:,} (near-duplicate removal {figures['dedup']})"),
        ("secret redaction", figures["secret_redaction"]),
        ("total tokens", f"{figures['total_tokens']:,}"),
        ("sequences", f"{figures['sequences']:,} x {figures['sequence_length']} (overlap {figures['overlap']})"),
        ("tokens per document", f"mean {per_doc['mean']:,} · p50 {per_doc['p50']:,} · p95 {per_doc['p95']:,} · max {per_doc['max']:,}"),
        ("characters per token", f"{figures['characters_per_token']}"),
        ("byte-fallback rate", f"{figures['byte_fallback_rate']:.4%}"),
        ("context tokens added", f"{figures['context_tokens_added']:,}"),
        ("BPE training", f"{figures['bpe_training_seconds']} s"),
        ("encoding", f"{figures['tokens_per_second']:,} tokens/s"),
        ("epochs (formula)", f"{figures['epochs']}"),
    ])
    splits = Table(title="temporal split", title_justify="left")
    for column in ("split", "documents", "tokens", "sequences", "from", "to"):
        splits.add_column(column, justify="left" if column in ("split", "from", "to") else "right")
    for name in ("train", "val", "test"):
        split = figures["splits"][name]
        splits.add_row(name, f"{split['documents']:,}", f"{split['tokens']:,}", f"{split['sequences']:,}",
                       (split["first_date"] or "-")[:10], (split["last_date"] or "-")[:10])
    out.print(splits)
