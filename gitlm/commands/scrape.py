"""`gitlm scrape`: git history -> commits.jsonl."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gitlm.commands.base import ConfigOption, app, err, out, print_figures, progress_bar
from gitlm.config import load_config


def _split_patterns(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


@app.command()
def scrape(
    repo: Annotated[Path, typer.Argument(help="Repository to read (default: the current directory).")] = Path("."),
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Workspace directory (default ./gitlm-out/<repo-name>/).")] = None,
    branches: Annotated[Optional[list[str]], typer.Option("--branches", "-b", help="Only these branches (glob; repeat or comma-separate).")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only commits committed on/after this ISO date or date-time.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only commits committed on/before this ISO date or date-time.")] = None,
    max_patch_bytes: Annotated[Optional[int], typer.Option(help="Cut each file's patch at this many bytes (default 65536).")] = None,
    patches: Annotated[Optional[bool], typer.Option("--patches/--no-patches", help="Keep each file's unified diff.")] = None,
    history_json: Annotated[Optional[bool], typer.Option("--json", help="Also write git_history.json.")] = None,
    keep_secrets: Annotated[bool, typer.Option("--keep-secrets", help="Do NOT redact secrets (API keys, tokens, passwords, private keys) from the outputs.")] = False,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", "-x", help="Leave out files matching these .gitignore-style patterns (repeat or comma-separate; '!pat' re-includes).")] = None,
    include: Annotated[Optional[list[str]], typer.Option("--include", "-i", help="Keep only files matching these .gitignore-style patterns (repeat or comma-separate).")] = None,
    default_excludes: Annotated[Optional[bool], typer.Option("--default-excludes/--no-default-excludes", help="Leave out vendored dirs, lock files, minified and generated files (default: on).")] = None,
    max_file_size: Annotated[Optional[int], typer.Option(help="Leave out files larger than this many bytes (0 = no limit) (default 1048576).")] = None,
    show_stats: Annotated[bool, typer.Option("--stats", help="Print the history's statistics.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more about what is happening.")] = False,
    config_file: ConfigOption = None,
) -> None:
    """Read the whole history into commits.jsonl (one commit per line, oldest first)."""
    from gitlm.scrape import scrape_to_workspace

    config = load_config(config_file, {
        "out": out_dir,
        "scrape": {
            "branches": _split_patterns(branches), "since": since, "until": until,
            "max_patch_bytes": max_patch_bytes, "patches": patches, "history_json": history_json,
        },
        "privacy": {
            "redact_secrets": False if keep_secrets else None, "exclude": _split_patterns(exclude),
            "include": _split_patterns(include), "default_excludes": default_excludes, "max_file_size": max_file_size,
        },
    })
    if not config.privacy.redact_secrets:
        from gitlm.privacy import KEEP_SECRETS_WARNING

        err.print(f"[bold yellow]warning:[/] {KEEP_SECRETS_WARNING}")
    started = time.perf_counter()
    with progress_bar("scrape", "commits") as progress:
        task = progress.add_task("scrape", total=None)
        counter = {"n": 0}

        def on_start(total: int) -> None:
            progress.update(task, total=total)
            if verbose:
                err.print(f"walking {total:,} commits")

        def on_commit() -> None:
            counter["n"] += 1
            if counter["n"] % 256 == 0:
                progress.update(task, completed=counter["n"])

        workspace, stats = scrape_to_workspace(repo, config, on_start=on_start, on_commit=on_commit)
    seconds = time.perf_counter() - started
    figures = stats.as_dict()
    rate = figures["total_commits"] / seconds if seconds > 0 else 0.0
    out.print(
        f"scraped {figures['total_commits']:,} commits in {seconds:.1f} s ({rate:,.0f} commits/s) "
        f"-> {workspace.path('commits.jsonl')}"
    )
    if figures["secrets_redacted"] and verbose:
        kinds = ", ".join(f"{n} {kind}" for kind, n in figures["secrets_by_type"].items())
        err.print(f"redacted {figures['secrets_redacted']} secrets ({kinds})")
    if figures["decode_error_total"]:
        err.print(f"[yellow]note:[/] {figures['decode_error_total']} undecodable strings replaced with U+FFFD "
                  f"(e.g. {figures['decode_error_example']!r})")
    if show_stats:
        _print_stats(figures)


def _print_stats(figures: dict[str, Any]) -> None:
    print_figures("history", [
        ("commits", f"{figures['total_commits']:,}"),
        ("merges", f"{figures['merges']:,} ({figures['merge_percentage']}%)"),
        ("insertions", f"+{figures['insertions']:,}"),
        ("deletions", f"-{figures['deletions']:,}"),
        ("unique authors", f"{figures['unique_authors']:,}"),
        ("branches", f"{figures['branches']:,}"),
        ("tags", f"{figures['tags']:,}"),
        ("files touched", f"{figures['files_touched']:,}"),
        ("date range", f"{figures['first_commit_date'] or '-'} .. {figures['last_commit_date'] or '-'}"),
        ("span", f"{figures['span_days']:,} days"),
        ("commits per day", f"{figures['commits_per_day']}"),
        ("binary changes", f"{figures['binary_changes']:,}"),
        ("truncated patches", f"{figures['truncated_patches']:,}"),
        ("decode errors", f"{figures['decode_error_total']:,}"),
        ("secrets redacted", f"{figures['secrets_redacted']:,}" if figures["secret_redaction"] else "off (--keep-secrets)"),
        ("files excluded", f"{figures['files_excluded']:,}"),
    ])
