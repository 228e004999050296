"""The `gitlm` command: a thin shell over the library. Parse, build config, call, print."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # typer 0.29 vendors click (pinned)
from typer.exceptions import Abort
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gitlm import __version__
from gitlm.config import dump_config, load_config
from gitlm.errors import GitlmError

app = typer.Typer(
    name="gitlm",
    help="Turn a git repository's history into a training corpus, a search index and a model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

out = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Optional[Path], typer.Option("--config", "-c", help="gitlm.yaml to read (default: ./gitlm.yaml if present).")]


def _version(value: bool) -> None:
    if value:
        out.print(f"gitlm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """gitlm: every phase is a subcommand; `gitlm COMMAND --help` for its options."""


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
    max_patch_bytes: Annotated[Optional[int], typer.Option(help="Cut each file's patch at this many bytes [default 65536].")] = None,
    patches: Annotated[Optional[bool], typer.Option("--patches/--no-patches", help="Keep each file's unified diff.")] = None,
    history_json: Annotated[Optional[bool], typer.Option("--json", help="Also write git_history.json.")] = None,
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
    })
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]scrape[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("commits"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    ) as progress:
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
    if figures["decode_error_total"]:
        err.print(f"[yellow]note:[/] {figures['decode_error_total']} undecodable strings replaced with U+FFFD "
                  f"(e.g. {figures['decode_error_example']!r})")
    if show_stats:
        _print_stats(figures)


def _print_stats(figures: dict[str, Any]) -> None:
    table = Table(title="history", show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    rows = [
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
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


@config_app.command("show")
def config_show(config_file: ConfigOption = None) -> None:
    """Print the effective configuration (defaults merged with gitlm.yaml) as YAML."""
    out.print(dump_config(load_config(config_file)), end="", markup=False, highlight=False)


def main() -> None:
    """Console entry point: one-line errors, exit 2 for bad input, 1 for failures."""
    debug = "--debug" in sys.argv[1:]
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        out.print(exc.format_message(), markup=False, highlight=False)
        sys.exit(0)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "gitlm"
        _fail(f"{exc.format_message()} (see '{command} --help')", 2)
    except ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except Abort:
        _fail("aborted", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except GitlmError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except Exception as exc:  # a bug: say so in one line; --debug shows the traceback
        if debug:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)
