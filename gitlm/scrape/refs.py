"""Refs and branch membership.

Which refs are walked: every ref except refs/stash and refs/notes/* (stash entries are
uncommitted work, notes are metadata about commits), plus HEAD, so a detached HEAD's
commits are included. With branch patterns, only the matching branches are walked.

Branch membership ("every local and remote-tracking branch whose history contains the
commit", as `git branch -a --contains`) is computed in ONE walk over the history, newest
first (`git rev-list --date-order --parents`): a commit's set of branches is the union of
its children's sets plus the branches whose tip it is, and date order guarantees every
child comes before its parents. Only the walk's frontier is held in memory; each finished
commit's set is written as a fixed-width bitmask to a temp file that the scraper reads
back in the opposite (oldest-first) order as it streams `git log`.
"""

from __future__ import annotations

import fnmatch
import mmap
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitlm.errors import BadInputError
from gitlm.scrape.git import Repository, git_stream, run_git

_SKIPPED_PREFIXES = ("refs/stash", "refs/notes/")


def short_branch_name(refname: str) -> str | None:
    if refname.startswith("refs/heads/"):
        return refname[len("refs/heads/"):]
    if refname.startswith("refs/remotes/"):
        return refname[len("refs/remotes/"):]
    return None


@dataclass
class RefSnapshot:
    """The refs of a repository at the start of a scrape."""

    branches: list[str] = field(default_factory=list)  # bit i of a mask = branches[i]
    tip_masks: dict[str, int] = field(default_factory=dict)  # commit -> branches whose tip it is
    tags: dict[str, list[str]] = field(default_factory=dict)  # commit -> tags pointing at it
    starts: list[str] = field(default_factory=list)  # commits the walk starts from
    ref_tips: dict[str, str] = field(default_factory=dict)  # refname -> commit, for fingerprints

    @property
    def tag_count(self) -> int:
        return sum(len(names) for names in self.tags.values())

    def branch_names(self, mask: int) -> list[str]:
        names = []
        bit = 0
        while mask:
            if mask & 1:
                names.append(self.branches[bit])
            mask >>= 1
            bit += 1
        return names


def read_refs(repo: Repository, branch_patterns: Iterable[str] = ()) -> RefSnapshot:
    """List refs with their peeled commits; select what to walk."""
    patterns = list(branch_patterns)
    fmt = "%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)%00%(*objecttype)%00%(symref)"
    out = run_git(repo.git_dir, "for-each-ref", f"--format={fmt}")
    snapshot = RefSnapshot()
    branch_tips: dict[str, str] = {}
    starts: set[str] = set()
    for line in out.decode("utf-8", "replace").splitlines():
        refname, oid, otype, peeled, peeled_type, symref = line.split("\0")
        if symref or refname.startswith(_SKIPPED_PREFIXES):
            continue
        commit = _peel_to_commit(repo, refname, oid, otype, peeled, peeled_type)
        if commit is None:
            continue
        snapshot.ref_tips[refname] = commit
        branch = short_branch_name(refname)
        if refname.startswith("refs/tags/"):
            snapshot.tags.setdefault(commit, []).append(refname[len("refs/tags/"):])
        if branch is not None:
            if patterns and not any(fnmatch.fnmatchcase(branch, p) for p in patterns):
                continue
            branch_tips[branch] = commit
        if not patterns or branch is not None:
            starts.add(commit)
    if patterns and not branch_tips:
        raise BadInputError(f"no branch matches {' '.join(patterns)}")
    if not patterns:
        head = run_git(repo.git_dir, "rev-parse", "--verify", "-q", "HEAD^{commit}", ok_codes=(0, 1)).strip()
        if head:
            starts.add(head.decode())
            snapshot.ref_tips["HEAD"] = head.decode()
    snapshot.branches = sorted(branch_tips)
    for bit, branch in enumerate(snapshot.branches):
        commit = branch_tips[branch]
        snapshot.tip_masks[commit] = snapshot.tip_masks.get(commit, 0) | (1 << bit)
    for names in snapshot.tags.values():
        names.sort()
    snapshot.starts = sorted(starts)
    return snapshot


def _peel_to_commit(repo: Repository, refname: str, oid: str, otype: str, peeled: str, peeled_type: str) -> str | None:
    if otype == "commit":
        return oid
    if otype == "tag" and peeled_type == "commit":
        return peeled
    if otype == "tag" and peeled_type == "tag":  # a tag of a tag: peel all the way
        out = run_git(repo.git_dir, "rev-parse", "--verify", "-q", f"{refname}^{{commit}}", ok_codes=(0, 1)).strip()
        return out.decode() or None
    return None  # tags of trees or blobs point at no commit


class BranchIndex:
    """The walk: per commit its hash, committer time and branch bitmask, newest first,
    in a temp file that is memory-mapped and read back oldest first."""

    def __init__(self, refs: RefSnapshot, temp_dir: Path | None = None):
        self.refs = refs
        self.width = max(1, (len(refs.branches) + 7) // 8)
        self.record = 40 + 8 + self.width  # hex hash, committer timestamp, mask
        self.count = 0
        self._file = tempfile.TemporaryFile(dir=temp_dir, prefix="gitlm-branches-")
        self._map: mmap.mmap | None = None

    def build(self, repo: Repository) -> int:
        """Walk the history once, newest first; return the number of commits."""
        if not self.refs.starts:
            return 0
        pending: dict[bytes, int] = {}
        tips = {c.encode(): m for c, m in self.refs.tip_masks.items()}
        width = self.width
        out = self._file
        buffer = bytearray()
        stdin = ("\n".join(self.refs.starts) + "\n").encode()
        args = ("rev-list", "--date-order", "--parents", "--timestamp", "--stdin")
        with git_stream(repo.git_dir, *args, stdin=stdin) as stream:
            for line in stream:
                timestamp, commit, *parents = line.split()
                mask = pending.pop(commit, 0) | tips.get(commit, 0)
                buffer += commit
                buffer += int(timestamp).to_bytes(8, "little", signed=True)
                buffer += mask.to_bytes(width, "little")
                if mask:
                    for parent in parents:
                        pending[parent] = pending.get(parent, 0) | mask
                self.count += 1
                if len(buffer) > 1 << 20:
                    out.write(buffer)
                    buffer.clear()
        out.write(buffer)
        out.flush()
        if self.count:
            self._map = mmap.mmap(out.fileno(), 0, access=mmap.ACCESS_READ)
        return self.count

    def oldest_first(self, since: int | None = None, until: int | None = None) -> Iterator[tuple[int, str, int]]:
        """(commit_number, hash, branch mask) from the oldest commit on, optionally only
        those whose committer timestamp lies in [since, until]."""
        record, width, data = self.record, self.width, self._map
        if data is None:
            return
        for number in range(self.count):
            start = (self.count - 1 - number) * record
            if since is not None or until is not None:
                timestamp = int.from_bytes(data[start + 40:start + 48], "little", signed=True)
                if (since is not None and timestamp < since) or (until is not None and timestamp > until):
                    continue
            mask = int.from_bytes(data[start + 48:start + 48 + width], "little")
            yield number, data[start:start + 40].decode("ascii"), mask

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        self._file.close()


def shallow_boundary(repo: Repository) -> set[str]:
    """Commits whose parents a shallow clone lacks (listed in .git/shallow)."""
    path = repo.git_dir / "shallow"
    try:
        return set(path.read_text(encoding="ascii").split())
    except (FileNotFoundError, UnicodeDecodeError):
        return set()
    except OSError:
        return set()


__all__ = ["BranchIndex", "RefSnapshot", "read_refs", "shallow_boundary", "short_branch_name"]
