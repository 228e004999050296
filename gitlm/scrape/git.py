"""Running git safely on an untrusted repository.

Every git call goes through `git_argv`/`git_env`, which:
- ignore the user's global and the system git config (a user's `diff.noprefix` or
  `color.ui=always` must not change what we parse), and drop inherited GIT_DIR-style
  variables so the repository is exactly the one given;
- override the repository's own config keys that run commands or change output
  (fsmonitor, hooks path, pager, signatures, diff drivers are also disabled per command with
  --no-ext-diff / --no-textconv);
- take no optional locks, so reading never writes into the repository (no index refresh).
Only read-only plumbing is ever run: rev-parse, for-each-ref, rev-list, log.
"""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from gitlm.errors import BadInputError, GitlmError

# Repository config that could run a program or reshape log/diff output, pinned to inert
# values. Command-line -c beats every config file git reads.
SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.quotePath=true",
    "core.abbrev=auto",
    "log.showSignature=false",
    "log.decorate=false",
    "log.mailmap=false",
    "color.ui=never",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.relative=false",
    "diff.submodule=short",
    "diff.algorithm=myers",
    "diff.indentHeuristic=true",
    "diff.suppressBlankEmpty=false",
    "diff.ignoreSubmodules=none",
    "i18n.logOutputEncoding=UTF-8",
    "safe.directory=*",
)

# Inherited variables that would point git at another repository or inject config.
_DROPPED_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
    "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_EXTERNAL_DIFF",
    "GIT_DIFF_OPTS", "GIT_PAGER", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS",
    "GIT_GRAFT_FILE", "GIT_REPLACE_REF_BASE", "GIT_SHALLOW_FILE", "GIT_TRACE",
)


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV and not k.startswith("GIT_CONFIG_KEY_") and not k.startswith("GIT_CONFIG_VALUE_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_OPTIONAL_LOCKS="0",
        GIT_TERMINAL_PROMPT="0",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_PAGER="cat",
        PAGER="cat",
        LC_ALL="C",
        LANGUAGE="C",
    )
    return env


def git_argv(git_dir: Path | None, *args: str) -> list[str]:
    argv = ["git"]
    if git_dir is not None:
        argv.append(f"--git-dir={git_dir}")
    for item in SAFE_CONFIG:
        argv += ["-c", item]
    argv.append("--no-pager")
    return argv + list(args)


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def run_git(git_dir: Path | None, *args: str, cwd: Path | None = None, ok_codes: tuple[int, ...] = (0,)) -> bytes:
    """Run a short git command and return its stdout; a failure becomes one GitlmError line."""
    proc = subprocess.run(git_argv(git_dir, *args), cwd=cwd, env=git_env(), capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode not in ok_codes:
        raise GitlmError(f"git {args[0]} failed: {_first_line(proc.stderr)}")
    return proc.stdout


@contextlib.contextmanager
def git_stream(git_dir: Path, *args: str, stdin: bytes | None = None) -> Iterator[IO[bytes]]:
    """Stream a long git command's stdout; stderr goes to a temp file so it cannot block.

    Leaving the block early kills git; a non-zero exit after a full read raises GitlmError.
    """
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            git_argv(git_dir, *args),
            env=git_env(),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=1 << 16,
        )
        completed = False
        try:
            if stdin is not None:
                assert proc.stdin is not None
                proc.stdin.write(stdin)
                proc.stdin.close()
            assert proc.stdout is not None
            yield proc.stdout
            completed = True
        finally:
            if not completed:
                proc.kill()
            proc.stdout.close()  # type: ignore[union-attr]
            code = proc.wait()
        if code != 0:
            stderr.seek(0)
            raise GitlmError(f"git {args[0]} failed: {_first_line(stderr.read())}")


T = TypeVar("T")


class _GrowingFile:
    """Read a file that a running process is still writing: at its end, wait for more
    until the process exits."""

    def __init__(self, handle: IO[bytes], proc: subprocess.Popen):
        self.handle = handle
        self.proc = proc

    def read(self, size: int = -1) -> bytes:
        while True:
            data = self.handle.read(size)
            if data:
                return data
            if self.proc.poll() is not None:
                return self.handle.read(size)
            time.sleep(0.001)


def git_batches(
    git_dir: Path, args: Iterable[str], batches: Iterable[tuple[bytes, T]], window: int, temp_dir: Path | None = None
) -> Iterator[tuple[T, IO[bytes]]]:
    """Run one git command per batch of stdin input, `window` processes at a time, and
    yield (tag, output stream) in batch order.

    git log is single-threaded; while we parse one batch's output, the next processes run
    on the other cores. Each writes to its own unlinked temp file (so it never waits for
    us), which we read as it grows: disk in flight is bounded by `window` batches, memory
    by one read block.
    """
    argv = git_argv(git_dir, *args)
    pending = iter(batches)
    running: collections.deque[tuple[Any, subprocess.Popen, IO[bytes], IO[bytes]]] = collections.deque()

    def launch() -> bool:
        item = next(pending, None)
        if item is None:
            return False
        payload, tag = item
        # two independent opens of one unlinked file: git's write offset and our read
        # offset must not be shared (a dup'd descriptor would share them)
        fd, name = tempfile.mkstemp(dir=temp_dir, prefix="gitlm-log-")
        try:
            reader = open(name, "rb", buffering=0)
        finally:
            os.unlink(name)
        stderr = tempfile.TemporaryFile(dir=temp_dir, prefix="gitlm-log-err-")
        proc = subprocess.Popen(argv, env=git_env(), stdin=subprocess.PIPE, stdout=fd, stderr=stderr)
        os.close(fd)
        assert proc.stdin is not None
        proc.stdin.write(payload)
        proc.stdin.close()
        running.append((tag, proc, reader, stderr))
        return True

    try:
        while len(running) < window and launch():
            pass
        while running:
            tag, proc, reader, stderr = running[0]
            yield tag, _GrowingFile(reader, proc)  # type: ignore[misc]
            running.popleft()
            code = proc.wait()
            reader.close()
            if code != 0:
                stderr.seek(0)
                raise GitlmError(f"git {args_name(argv)} failed: {_first_line(stderr.read())}")
            stderr.close()
            launch()
    finally:
        for _, proc, reader, stderr in running:
            proc.kill()
            proc.wait()
            reader.close()
            stderr.close()


def args_name(argv: list[str]) -> str:
    return argv[argv.index("--no-pager") + 1]


@dataclass(frozen=True)
class Repository:
    """A resolved repository: where its objects are and what to call it."""

    path: Path
    git_dir: Path
    name: str
    is_bare: bool
    is_shallow: bool


def open_repository(path: Path | str) -> Repository:
    """Resolve a path to a repository, or raise BadInputError with one line."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{path} does not exist")
    if not path.is_dir():
        raise BadInputError(f"{path} is not a git repository")
    if not os.access(path, os.R_OK | os.X_OK):
        raise BadInputError(f"{path} is not readable")
    proc = subprocess.run(
        git_argv(None, "rev-parse", "--absolute-git-dir", "--is-bare-repository", "--is-shallow-repository"),
        cwd=path, env=git_env(), capture_output=True, stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise BadInputError(f"{path} is not a git repository")
    git_dir_text, bare, shallow = proc.stdout.decode("utf-8", "surrogateescape").splitlines()[:3]
    git_dir = Path(git_dir_text)
    is_bare = bare == "true"
    if is_bare:
        top = git_dir
    else:
        top_out = subprocess.run(
            git_argv(None, "rev-parse", "--show-toplevel"), cwd=path, env=git_env(), capture_output=True, stdin=subprocess.DEVNULL
        )
        top = Path(top_out.stdout.decode("utf-8", "surrogateescape").strip() or path.resolve())
    name = top.name[:-4] if top.name.endswith(".git") and top.name != ".git" else top.name
    if name in ("", ".git"):
        name = top.parent.name or "repo"
    return Repository(path=top, git_dir=git_dir, name=name, is_bare=is_bare, is_shallow=shallow == "true")
