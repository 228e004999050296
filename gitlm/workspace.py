"""The workspace: the directory every stage reads from and writes to, and its MANIFEST.json.

Outputs are written atomically (temp file in the same directory, fsync, rename), so a killed
run leaves either the previous file or the new one, never half of one. A lock file guards
the directory so two runs cannot interleave their writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from gitlm.errors import BadInputError, GitlmError, WorkspaceBusyError

MANIFEST = "MANIFEST.json"
LOCK = ".gitlm.lock"
_held: dict[tuple[str, int], int] = {}  # (workspace, thread) locks held here, with the nesting depth


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able inputs (config, ref tips, versions) for skip decisions."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of gitlm and the named distributions, for the manifest."""
    versions = {"python": platform.python_version()}
    for name in ("gitlm", *names):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class Workspace:
    """One repository's output directory."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    def create(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"cannot create workspace {self.root}: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise BadInputError(f"workspace {self.root} is not writable")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the workspace for this process; a second run fails at once with one line.

        Re-entrant within a thread (`gitlm run` holds it across phases that take it too).
        Taking it sweeps temp files a killed run left behind: while the lock is held no
        other gitlm process writes here, so any temp file not this process's is stale.
        """
        key = (str(self.root.resolve()), threading.get_ident())
        if _held.get(key):
            _held[key] += 1
            try:
                yield
            finally:
                _held[key] -= 1
            return
        self.create()
        handle = open(self.path(LOCK), "a+", encoding="utf-8")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise WorkspaceBusyError(
                    f"workspace {self.root} is in use by another gitlm run (pid {holder})"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            self.remove_stale_temps()
            _held[key] = 1
            try:
                yield
            finally:
                _held.pop(key, None)
        finally:
            handle.close()

    def remove_stale_temps(self) -> list[Path]:
        """Delete `.name.tmp-PID` / `.name.old-PID` files and directories of other processes."""
        removed = []
        own = f"-{os.getpid()}"
        for path in self.root.rglob(".*"):
            name = path.name
            if (".tmp-" in name or ".old-" in name) and not name.endswith(own) and name.rsplit("-", 1)[-1].isdigit():
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                removed.append(path)
        return removed

    @contextlib.contextmanager
    def atomic_writer(self, name: str, mode: str = "wb") -> Iterator[IO[Any]]:
        """A file handle whose content replaces `name` only if the block completes."""
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            # binary outputs are written a line at a time: a 1 MiB buffer makes that a few
            # large writes instead of a system call every few lines
            with open(temp, mode, **({"buffering": 1 << 20} if "b" in mode else {"encoding": "utf-8"})) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            if isinstance(exc, OSError):
                # a full disk, a read-only or vanished directory: one line, previous output kept
                raise GitlmError(f"cannot write {target}: {exc.strerror or exc}; nothing was replaced") from exc
            raise

    def write_json(self, name: str, data: Any) -> None:
        with self.atomic_writer(name, "w") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
            handle.write("\n")

    # -- MANIFEST.json -------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any]:
        path = self.path(MANIFEST)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"phases": {}}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GitlmError(f"{path} is corrupt ({exc}); delete it to start the workspace afresh") from None
        if not isinstance(data, dict) or not isinstance(data.get("phases", {}), dict):
            raise GitlmError(f"{path} is corrupt (not a manifest object); delete it to start afresh")
        data.setdefault("phases", {})
        return data

    def update_manifest(self, **top_level: Any) -> dict[str, Any]:
        """Set top-level manifest fields (the run's summary) and write it atomically."""
        manifest = self.read_manifest()
        manifest.setdefault("created_at", utc_now())
        manifest["updated_at"] = utc_now()
        manifest.update(top_level)
        self.write_json(MANIFEST, manifest)
        return manifest

    def record_phase(self, phase: str, result: dict[str, Any], **top_level: Any) -> dict[str, Any]:
        """Store one phase's result (status, timings, outputs, stats, fingerprint) in the manifest."""
        manifest = self.read_manifest()
        manifest.setdefault("created_at", utc_now())
        manifest["updated_at"] = utc_now()
        manifest.update(top_level)
        manifest["phases"][phase] = result
        self.write_json(MANIFEST, manifest)
        return manifest


DEFAULT_ROOT = Path("gitlm-out")


def find_workspace(explicit: Path | None = None, configured: Path | None = None) -> Workspace:
    """The workspace a later phase works in: --workspace, else the configured `out`, else
    the only workspace under ./gitlm-out/ (an error when there are none or several)."""
    for choice in (explicit, configured):
        if choice is not None:
            if not Path(choice).is_dir():
                raise BadInputError(f"workspace {choice} does not exist; run `gitlm scrape` first")
            return Workspace(Path(choice))
    candidates = sorted(p for p in DEFAULT_ROOT.glob("*") if (p / MANIFEST).is_file()) if DEFAULT_ROOT.is_dir() else []
    if len(candidates) == 1:
        return Workspace(candidates[0])
    if not candidates:
        raise BadInputError("no workspace found under ./gitlm-out/; run `gitlm scrape REPO` first or pass --workspace")
    names = ", ".join(str(p) for p in candidates)
    raise BadInputError(f"several workspaces ({names}); choose one with --workspace")


class PhaseTimer:
    """Wall time and UTC start/end of a phase, for its manifest entry."""

    def __init__(self) -> None:
        self.started_at = utc_now()
        self._start = time.perf_counter()

    def finish(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "finished_at": utc_now(),
            "seconds": round(time.perf_counter() - self._start, 3),
        }
