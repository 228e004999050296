"""`gitlm dataset`: tokens/ -> dataset/ (chronological context/target windows per split)."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich.table import Table

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, out
from gitlm.config import load_config


@app.command()
def dataset(
    context_window: Annotated[Optional[int], typer.Option(help="Ids of context per example (default 2048).")] = None,
    target_window: Annotated[Optional[int], typer.Option(help="Ids to predict after the context (default 256).")] = None,
    stride: Annotated[Optional[int], typer.Option(help="Ids between consecutive windows (default 128).")] = None,
    split: Annotated[Optional[str], typer.Option(help="Temporal train/val/test percentages (default 70/15/15).")] = None,
    export_json: Annotated[Optional[bool], typer.Option("--json", help="Also write training_data_{train,val,test}.json.")] = None,
    export_pt: Annotated[Optional[bool], typer.Option("--pt", help="Also write training_data_{train,val,test}.pt (torch tensors).")] = None,
    show_stats: Annotated[bool, typer.Option("--stats", help="Print examples, tokens and dates per split.")] = False,
    workspace_dir: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Cut the token stream into chronological context/target windows, split by time.

    Writes dataset/{train,val,test}.parquet (datasets.load_dataset("parquet", ...) reads them)
    and dataset/dataset_stats.json; no shuffling, no window crosses a split.
    """
    from gitlm.dataset import build_dataset
    from gitlm.workspace import find_workspace

    config = load_config(config_file, {
        "dataset": {
            "context_window": context_window, "target_window": target_window, "stride": stride,
            "split": split, "export_json": export_json, "export_pt": export_pt,
        },
    })
    workspace = find_workspace(workspace_dir, config.out)
    started = time.perf_counter()
    stats = build_dataset(workspace, config)
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{name} {stats.splits[name]['examples']:,}" for name in ("train", "val", "test"))
    out.print(f"wrote {stats.examples:,} examples ({counts}) in {seconds:.1f} s -> {workspace.path('dataset')}")
    if show_stats:
        table = Table(title="dataset", title_justify="left")
        for column in ("split", "examples", "documents", "tokens", "padding", "from", "to"):
            table.add_column(column, justify="left" if column in ("split", "from", "to") else "right")
        for name in ("train", "val", "test"):
            s = stats.splits[name]
            table.add_row(name, f"{s['examples']:,}", f"{s['documents']:,}", f"{s['tokens']:,}", f"{s['padding_tokens']:,}",
                          (s["first_date"] or "-")[:10], (s["last_date"] or "-")[:10])
        out.print(table)
