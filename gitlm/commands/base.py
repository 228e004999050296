"""The shared pieces of the `gitlm` command: the typer app, consoles and common options.

Each subcommand lives in its own module in this package and registers itself on `app`;
`gitlm/commands/__init__.py` lists them. Commands are thin: parse, build config, call the
library function, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gitlm import __version__

app = typer.Typer(
    name="gitlm",
    help="Turn a git repository's history into a training corpus, a search index and a model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

out = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Optional[Path], typer.Option("--config", "-c", help="gitlm.yaml to read (default: ./gitlm.yaml if present).")]
WorkspaceOption = Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace directory (default: the one configured by `out`, else the only one under ./gitlm-out/).")]


def print_figures(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column table of named figures (the --stats output of the phase commands)."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def progress_bar(label: str, unit: str) -> Progress:
    """A transient progress bar on stderr, silent when stderr is not a terminal."""
    return Progress(
        TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    )


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
