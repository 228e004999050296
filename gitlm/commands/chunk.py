"""`gitlm chunk`: commits.jsonl -> chunks.jsonl."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, err, out, print_figures, progress_bar
from gitlm.config import load_config


@app.command()
def chunk(
    workspace: WorkspaceOption = None,
    max_chunk_tokens: Annotated[Optional[int], typer.Option(help="Split units estimated above this many tokens (default 512).")] = None,
    min_chunk_tokens: Annotated[Optional[int], typer.Option(help="Merge neighbouring chunks below this many tokens (default 64).")] = None,
    merges: Annotated[Optional[bool], typer.Option("--merges/--no-merges", help="Also chunk merge commits' first-parent diffs (default: no).")] = None,
    repo: Annotated[Optional[Path], typer.Option(help="Repository to read file contents from (default: the one the scrape read, from MANIFEST.json).")] = None,
    show_stats: Annotated[bool, typer.Option("--stats", help="Print the chunk statistics.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    config_file: ConfigOption = None,
) -> None:
    """Turn each commit's diff into code chunks (chunks.jsonl): the whole changed function,
    method, type, test, config section or Markdown section before and after, with its
    change type."""
    from gitlm.chunk import chunk_workspace
    from gitlm.workspace import find_workspace

    config = load_config(config_file, {
        "chunk": {"max_chunk_tokens": max_chunk_tokens, "min_chunk_tokens": min_chunk_tokens, "merges": merges},
    })
    target = find_workspace(workspace, config.out)
    started = time.perf_counter()
    with progress_bar("chunk", "commits") as progress:
        task = progress.add_task("chunk", total=None)
        counter = {"n": 0}

        def on_start(total: int | None) -> None:
            progress.update(task, total=total)

        def on_commit() -> None:
            counter["n"] += 1
            if counter["n"] % 256 == 0:
                progress.update(task, completed=counter["n"])

        stats = chunk_workspace(target, config, repo=repo, on_start=on_start, on_commit=on_commit)
    seconds = time.perf_counter() - started
    figures = stats.as_dict()
    if as_json:
        out.print_json(json.dumps(figures | {"seconds": round(seconds, 3)}))
        return
    rate = figures["commits"] / seconds if seconds > 0 else 0.0
    out.print(
        f"chunked {figures['commits']:,} commits into {figures['chunks']:,} chunks in {seconds:.1f} s "
        f"({rate:,.0f} commits/s, {figures['expansion_factor']} chunks per commit) -> {target.path('chunks.jsonl')}"
    )
    if figures["parse_fallbacks"]:
        err.print(f"[yellow]note:[/] {figures['parse_fallbacks']:,} file changes did not parse and were chunked by hunk "
                  f"(e.g. {figures['parse_fallback_example']})")
    if show_stats:
        _print_stats(figures)


def _print_stats(figures: dict[str, Any]) -> None:
    print_figures("chunks", [
        ("commits", f"{figures['commits']:,}"),
        ("merge commits skipped", f"{figures['merges_skipped']:,}"),
        ("file changes", f"{figures['file_changes']:,}"),
        ("chunks", f"{figures['chunks']:,}"),
        ("chunks per commit (expansion)", f"{figures['expansion_factor']}"),
        ("chunks per chunked commit", f"{figures['chunks_per_chunked_commit']}"),
        ("parse fallbacks (by hunk)", f"{figures['parse_fallbacks']:,}"),
        ("units split (parts)", f"{figures['split_units']:,}"),
        ("small chunks merged", f"{figures['merged_chunks']:,}"),
        ("whole-file deletions", f"{figures['whole_file_deletions']:,}"),
        ("skipped (binary, submodule, ...)", f"{sum(figures['skipped_file_changes'].values()):,}"),
        ("tokens per chunk (mean / max)", f"{figures['tokens_mean']} / {figures['tokens_max']:,}"),
        ("secrets redacted", f"{figures['secrets_redacted']:,}"),
    ])
    for title, key in (("change types", "chunks_per_change_type"), ("languages", "chunks_per_language")):
        print_figures(title, [(name, f"{count:,}") for name, count in figures[key].items()])
