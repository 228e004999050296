"""The `gitlm` console entry point: run the typer app, turn failures into one line."""

from __future__ import annotations

import sys

from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # typer 0.29 vendors click (pinned)
from typer.exceptions import Abort

from gitlm.commands import app
from gitlm.commands.base import err, out
from gitlm.errors import GitlmError


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
    except OSError as exc:  # the system refused (disk full, permission, vanished file): not a bug
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}", 1)
    except Exception as exc:  # a bug: say so in one line; --debug shows the traceback
        if debug:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)
