"""File contents at a commit, read through ONE long-lived `git cat-file --batch` process.

The chunker needs each changed file before and after its commit. One git process per file
would cost a fork and a repository open each time (PyDriller's main cost); instead a single
`git cat-file --batch -z` runs for the whole stage, started through the scraper's safe
helpers (`git_argv`/`git_env`: the repository's config cannot run a program).

Blobs are named by the ids the scraper recorded (FileChange.old_blob/new_blob, as git's
--raw printed them), so a blob already in the cache costs no git round trip at all: merges
and cherry-picks re-use the same blobs, and one commit's new file is the next change's old
file. Records without ids (written by an older scraper) are read as `<commit>:<path>`; -z
makes any path (spaces, newlines) safe. Ids that git reports ambiguous or missing fall back
to `<commit>:<path>` too.

Requests are submitted ahead of use (the chunker looks a few commits ahead), written to git in
one go when the first of them is needed, and answers are read in order, so git inflates the
next commits' blobs (into a pipe enlarged to 1 MiB) while Python chunks this one, and no
round trip is waited for one file at a time.
Requests in flight are bounded (answers are drained before more are written), so git never
blocks on a full pipe while we block on another.

Most new versions never come from git at all: the chunker rebuilds a modified file's new
version from its old one (in the cache) and git's complete patch, and `put`s it here after
checking that it hashes to the id git recorded (`matches`). Inflating the object in git and
moving it through the pipe cost more than splicing and hashing it (ipython's history: 0.86 GB
of blobs read before, most of them new versions of large, often-changed files). A version
the chunker will build is `promise`d when its change is planned, so a later change planned in
the same look-ahead (whose old version it is) waits for it instead of asking git.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import subprocess
import tempfile
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitlm.errors import GitlmError
from gitlm.scrape.git import Repository, git_argv, git_env

_HEADER = re.compile(rb"^([0-9a-f]{40,64}) (\w+) (\d+)\n$")
_IN_FLIGHT = 32 << 10  # request bytes written and not answered yet (well under a pipe's 64 KiB)
_PIPE_SIZE = 1 << 20  # git's stdout pipe: how far ahead git may answer


@dataclass(slots=True)
class BlobRequest:
    oid: str | None  # the recorded (maybe abbreviated) id, when known
    commit: str
    path: str


class Blob:
    """A file version and whatever has been computed from it (line index, outline)."""

    __slots__ = ("key", "data", "lines", "outline", "text_lines")

    def __init__(self, key: str, data: bytes):
        self.key = key
        self.data = data
        self.lines: Any = None  # outline.LineIndex, built on first use
        self.outline: Any = None  # (analyzer name, outline.Outline), built on first use
        self.text_lines: list[str] | None = None


class _Slot:
    """One request to git and, once read, its answer (seq: the request's size in bytes)."""

    __slots__ = ("seq", "name", "request", "data", "status", "blob")

    def __init__(self, seq: int, name: bytes, request: BlobRequest):
        self.seq = seq
        self.name = name
        self.request = request
        self.data: bytes | None = None
        self.status = ""
        self.blob: Blob | None = None


class Ticket:
    """What `submit` returns: per request, a cached Blob or the slot its answer will fill."""

    __slots__ = ("items",)

    def __init__(self, items: list[Blob | _Slot]):
        self.items = items


class BlobStore:
    """Blobs by id through one cat-file process, with an LRU cache bounded in bytes."""

    def __init__(self, repo: Repository, cache_bytes: int = 256 << 20):
        self.repo = repo
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, Blob] = OrderedDict()
        self._cached_bytes = 0
        # outlines of evicted blobs, by the bytes they describe (an outline takes a fraction
        # of its text): a version read again, as when a branch comes back to an old file,
        # needs no full parse
        self._outlines: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._outline_bytes = 0
        self._pending: dict[str, _Slot] = {}
        self._proc: subprocess.Popen | None = None
        self._stderr: Any = None
        self._unanswered: deque[_Slot] = deque()  # asked for, answer not read yet (in order)
        self._unwritten: list[bytes] = []  # the newest of those, not written to git yet
        self._in_flight = 0  # their request bytes
        self._hash: str | None = None  # the repository's object hash (sha1, sha256), from git's first answer
        self.reads = 0  # blobs read from git
        self.bytes_read = 0
        self.hits = 0  # blobs served from the cache
        self.rebuilt = 0  # blobs put by the caller (see the module docstring)

    # -- process ------------------------------------------------------------------------

    def _start(self) -> subprocess.Popen:
        if self._proc is None:
            self._stderr = tempfile.TemporaryFile()
            self._proc = subprocess.Popen(
                git_argv(self.repo.git_dir, "cat-file", "--batch", "-z"),
                env=git_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=1 << 16,
            )
            try:  # let git answer further ahead (Linux; elsewhere the default pipe size works too)
                fcntl.fcntl(self._proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)  # type: ignore[union-attr, attr-defined]
            except (AttributeError, OSError):
                pass
        return self._proc

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
            if proc.stdout is not None:
                proc.stdout.close()  # unread answers are dropped; git ends on the closed pipe
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> BlobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- asking ---------------------------------------------------------------------------

    def cached(self, oid: str) -> Blob | None:
        """The blob if it is in the cache (no git round trip, no hit counted)."""
        return self._cache.get(oid)

    def promise(self, request: BlobRequest) -> bool:
        """Note that the caller will `put` this blob before any ticket that asks for it is
        resolved; False (nothing noted) when it is cached or asked for already."""
        key = request.oid
        if key is None or key in self._cache or key in self._pending:
            return False
        slot = _Slot(0, key.encode(), request)
        slot.status = "promised"
        self._pending[key] = slot
        return True

    def matches(self, oid: str, data: bytes) -> bool:
        """Whether `data` is the blob git names `oid` (full or abbreviated): its object hash
        starts with it. False while the repository's hash function is not known yet."""
        if self._hash is None:
            return False
        digest = hashlib.new(self._hash, b"blob %d\x00" % len(data))
        digest.update(data)
        return digest.hexdigest().startswith(oid)

    def put(self, oid: str, data: bytes) -> Blob:
        """Keep a blob the caller built (see `matches`); it fulfils its promise."""
        blob = self._new_blob(oid, data)
        self.rebuilt += 1
        slot = self._pending.pop(oid, None)
        if slot is not None and slot.status == "promised":
            slot.blob, slot.status = blob, "blob"
        return blob

    def fetch(self, request: BlobRequest) -> Blob | None:
        """One blob now, from the cache or git (a promised one the caller could not build)."""
        slot = self._pending.get(request.oid) if request.oid is not None else None
        if slot is not None and slot.status == "promised":
            return self.resolve(Ticket([slot]))[0]  # later tickets holding the slot get the answer too
        return self.get_many([request])[0]

    def get_many(self, requests: Sequence[BlobRequest]) -> list[Blob | None]:
        """The blobs for the requests, in order (None: not in the repository, or not a blob)."""
        return self.resolve(self.submit(requests))

    def submit(self, requests: Sequence[BlobRequest]) -> Ticket:
        """Ask git for the blobs not cached (nor already asked for); answers arrive in the
        background, `resolve` waits for them."""
        items: list[Blob | _Slot] = []
        names: list[_Slot] = []
        for request in requests:
            key = request.oid
            if key is not None:
                blob = self._cache.get(key)
                if blob is not None:
                    self._cache.move_to_end(key)
                    self.hits += 1
                    items.append(blob)
                    continue
                slot = self._pending.get(key)
                if slot is not None:
                    self.hits += 1
                    items.append(slot)
                    continue
            name = key if key is not None else f"{request.commit}:{request.path}"
            slot = _Slot(0, name.encode("utf-8", "surrogateescape"), request)
            if key is not None:
                self._pending[key] = slot
            names.append(slot)
            items.append(slot)
        self._send(names)
        return Ticket(items)

    def resolve(self, ticket: Ticket) -> list[Blob | None]:
        out: list[Blob | None] = []
        retry: list[tuple[int, _Slot]] = []
        for index, item in enumerate(ticket.items):
            if isinstance(item, Blob):
                out.append(item)
                continue
            if item.status == "promised":  # not built after all (or not yet): ask git
                item.status = ""
                self._send([item])
            self._wait(item)
            if item.blob is None and item.data is not None:
                key = item.request.oid
                item.blob = self._new_blob(key, item.data) if key is not None else Blob(
                    item.name.decode("utf-8", "surrogateescape"), item.data)
                item.data = None
            if item.request.oid is not None:
                self._pending.pop(item.request.oid, None)
            if item.blob is None and item.request.oid is not None and item.status == "missing":
                retry.append((index, item))
            out.append(item.blob)
        if retry:  # the recorded id no longer names one object: ask by commit and path
            slots = [_Slot(0, f"{s.request.commit}:{s.request.path}".encode("utf-8", "surrogateescape"),
                           BlobRequest(None, s.request.commit, s.request.path)) for _, s in retry]
            self._send(slots)
            for (index, _), slot in zip(retry, slots):
                self._wait(slot)
                out[index] = Blob(slot.name.decode("utf-8", "surrogateescape"), slot.data) if slot.data is not None else None
        return out

    def _new_blob(self, key: str, data: bytes) -> Blob:
        """A blob for the cache, with the outline it had when it was evicted last."""
        blob = Blob(key, data)
        kept = self._outlines.pop(key, None)
        if kept is not None:
            blob.outline = kept[0]
            self._outline_bytes -= kept[1]
        self._cache_put(key, blob)
        return blob

    def _cache_put(self, key: str, blob: Blob) -> None:
        """Keep a blob; the least recently used go when the cache is over its budget, counted
        as twice the content (its line index and outline take about as much again)."""
        if key in self._cache:
            self._cached_bytes -= 2 * len(self._cache.pop(key).data)
        self._cache[key] = blob
        self._cached_bytes += 2 * len(blob.data)
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            old_key, old = self._cache.popitem(last=False)
            self._cached_bytes -= 2 * len(old.data)
            if old.outline is not None:
                self._keep_outline(old_key, old.outline, len(old.data))

    def _keep_outline(self, key: str, outline: Any, size: int) -> None:
        budget = self.cache_bytes // 4  # counted by the text an outline describes
        if size > budget:
            return  # it would push out every other one
        outlines = self._outlines
        outlines[key] = (outline, size)
        self._outline_bytes += size
        while self._outline_bytes > budget and outlines:
            self._outline_bytes -= outlines.popitem(last=False)[1][1]

    def _send(self, slots: list[_Slot]) -> None:
        """Queue the requests; they are written to git in one go when an answer is needed
        (or when too many are in flight: then answers are read first)."""
        for slot in slots:
            size = len(slot.name) + 1
            while self._unanswered and self._in_flight + size > _IN_FLIGHT:
                self._read_one()
            slot.seq = size
            self._unanswered.append(slot)
            self._unwritten.append(slot.name + b"\x00")
            self._in_flight += size

    def _flush(self) -> None:
        proc = self._start()
        assert proc.stdin is not None
        try:
            proc.stdin.write(b"".join(self._unwritten))
            proc.stdin.flush()
        except BrokenPipeError:
            raise GitlmError(f"git cat-file stopped: {self._error_text()}") from None
        self._unwritten.clear()

    def _wait(self, slot: _Slot) -> None:
        while slot.status == "":
            if not self._unanswered:
                raise GitlmError("internal error: waiting for a blob that was never asked for")
            self._read_one()

    def _read_one(self) -> None:
        if self._unwritten:
            self._flush()
        slot = self._unanswered.popleft()
        self._in_flight -= slot.seq
        assert self._proc is not None and self._proc.stdout is not None
        self._answer(self._proc.stdout, slot)

    def _answer(self, stdout: Any, slot: _Slot) -> None:
        header = stdout.readline()
        if not header:
            raise GitlmError(f"git cat-file stopped: {self._error_text()}")
        match = _HEADER.match(header)
        name = slot.name
        if match is None:
            # "<name> missing" / "<name> ambiguous": the name is echoed as given, newlines and all
            while not (len(header) > len(name) and header.startswith(name)):
                more = stdout.readline()
                if not more:
                    break
                header += more
            slot.status = "missing"
            return
        size = int(match.group(3))
        if self._hash is None:
            self._hash = "sha1" if len(match.group(1)) == 40 else "sha256"
        data = stdout.read(size)
        stdout.read(1)  # the LF after the content
        if match.group(2) != b"blob":
            slot.status = "not-blob"
            return
        slot.status = "blob"
        slot.data = data
        self.reads += 1
        self.bytes_read += size

    def _error_text(self) -> str:
        if self._stderr is None:
            return "no message"
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return text.splitlines()[0] if text else "no message"
