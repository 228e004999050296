"""Parse one `git log -z --raw --numstat -p` stream into raw commits, in bounded memory.

The stream comes from a single git process for the whole history (PyDriller's main cost is
one git call per commit). With -z, paths are NUL-terminated and never quoted, so any byte
sequence git allows in a name survives. Per commit git writes:

    MARKER hash NUL abbrev NUL parents NUL an NUL ae NUL at NUL aI NUL cn NUL ce NUL ct NUL cI NUL message NUL
    "\\n" then for each file ":oldmode newmode oldsha newsha STATUS" NUL path NUL (R/C: src NUL dst NUL)
    then for each file "ins\\tdel\\tpath" NUL (R/C: "ins\\tdel\\t" NUL src NUL dst NUL)
    then NUL and the unified patch text, which never holds a NUL (a file with one is binary)

The raw and numstat lists come from the same diff queue, in the same order, so entry i of
one is entry i of the other; the patch has one `diff --git` section per entry, except that
a type change (file <-> symlink) is printed as a deletion plus an addition: two sections.

Patch text is read section by section and only the first `patch_limit + 1` bytes of each
are kept, so a commit that adds a 500 MB file costs no more memory than one that adds 64 KB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from gitlm.errors import GitlmError

MARKER = b"\x00\x00\x1egitlm\x1e"
LOG_FORMAT = "%x00%x00%x1egitlm%x1e%H%x00%h%x00%P%x00%an%x00%ae%x00%at%x00%aI%x00%cn%x00%ce%x00%ct%x00%cI%x00%B"
HEADER_FIELDS = 12  # hash, abbrev, parents, an, ae, at, aI, cn, ce, ct, cI, message
_DIFF = b"diff --git "
_SECTION = b"\n" + _DIFF
_READ_SIZE = 1 << 18


@dataclass(slots=True)
class RawFile:
    status: str
    similarity: int | None
    old_mode: bytes
    new_mode: bytes
    old_path: bytes | None
    path: bytes
    insertions: int | None  # None: binary (numstat "-")
    deletions: int | None
    patch: bytes | None = None  # at most patch_limit + 1 bytes per section
    old_blob: bytes = b""  # abbreviated object ids of both sides (for the size filter)
    new_blob: bytes = b""


@dataclass(slots=True)
class RawCommit:
    header: list[bytes]
    files: list[RawFile]
    patch_misaligned: bool = False


class LogParser:
    """Iterate RawCommits from a git log stream; the buffer always starts at the parse point."""

    def __init__(self, stream: IO[bytes], with_patches: bool, patch_limit: int):
        self.stream = stream
        self.with_patches = with_patches
        self.keep = patch_limit + 1
        self.buf = bytearray()
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        block = self.stream.read(_READ_SIZE)
        if not block:
            self.eof = True
            return False
        self.buf += block
        return True

    def _ensure(self, size: int) -> None:
        while len(self.buf) < size and self._fill():
            pass

    def _find(self, pattern: bytes, start: int) -> int:
        while True:
            found = self.buf.find(pattern, start)
            if found >= 0 or self.eof:
                return found
            start = max(start, len(self.buf) - len(pattern) + 1)
            self._fill()

    def __iter__(self) -> Iterator[RawCommit]:
        buf = self.buf
        self._ensure(len(MARKER))
        if not buf:
            return
        if not buf.startswith(MARKER):
            raise GitlmError("git log produced output gitlm cannot parse (no commit marker)")
        del buf[: len(MARKER)]
        while True:
            header = self._read_header()
            meta, has_patch, more = self._read_meta()
            files = parse_meta(meta)
            commit = RawCommit(header, files)
            if has_patch:
                sections, more = self._read_sections()
                attach_patches(commit, sections)
            yield commit
            if not more:
                return

    def _read_header(self) -> list[bytes]:
        buf = self.buf
        fields = []
        start = 0
        for _ in range(HEADER_FIELDS):
            end = self._find(b"\x00", start)
            if end < 0:
                raise GitlmError("git log output ended inside a commit header")
            fields.append(bytes(buf[start:end]))
            start = end + 1
        del buf[:start]
        return fields

    def _read_meta(self) -> tuple[bytes, bool, bool]:
        """(raw+numstat bytes, a patch follows, another commit follows)."""
        buf = self.buf
        stop = self._find(b"\x00\x00", 0)
        if stop < 0:
            meta = bytes(buf)
            buf.clear()
            return meta, False, False
        self._ensure(stop + 2 + max(len(_DIFF), len(MARKER)))
        if buf.startswith(_DIFF, stop + 2):
            meta = bytes(buf[: stop + 1])
            del buf[: stop + 2]
            return meta, True, True
        for cut in (stop, stop + 1):
            if buf.startswith(MARKER, cut):
                meta = bytes(buf[:cut])
                del buf[: cut + len(MARKER)]
                return meta, False, True
        raise GitlmError("git log output has an unexpected record separator")

    def _read_sections(self) -> tuple[list[bytes], bool]:
        """Each `diff --git` section (capped), and whether another commit follows."""
        sections = []
        while True:
            section, kind = self._read_section()
            sections.append(section)
            if kind != "section":
                return sections, kind == "commit"

    def _read_section(self) -> tuple[bytes, str]:
        buf = self.buf
        keep = self.keep
        kept: bytes | None = None  # set once the section outgrows `keep`; the rest is dropped
        scan = 1
        while True:
            nul = buf.find(b"\x00", scan)
            limit = nul if nul >= 0 else len(buf)
            nxt = buf.find(_SECTION, scan, limit)
            if nxt >= 0:
                end, kind = nxt + 1, "section"
            elif nul >= 0:
                end, kind = nul, "commit"
            elif self.eof:
                end, kind = len(buf), "eof"
            else:
                if kept is None and len(buf) > keep:
                    kept = bytes(buf[:keep])
                if kept is not None:  # drop what we will never keep, bar a pattern's overlap
                    drop = len(buf) - len(_SECTION)
                    if drop > 0:
                        del buf[:drop]
                scan = max(0, len(buf) - len(_SECTION) + 1)
                self._fill()
                continue
            section = kept if kept is not None else bytes(buf[: min(end, keep)])
            if kind == "commit":
                self._ensure(end + len(MARKER))
                if not buf.startswith(MARKER, end):
                    raise GitlmError("git log output has a NUL inside a patch")
                del buf[: end + len(MARKER)]
            else:
                del buf[:end]
            return section, kind


def parse_meta(meta: bytes) -> list[RawFile]:
    """The --raw and --numstat entries of one commit."""
    if meta.startswith(b"\n"):
        meta = meta[1:]
    if not meta:
        return []
    tokens = meta.split(b"\x00")
    files: list[RawFile] = []
    index = 0
    count = len(tokens)
    while index < count:
        token = tokens[index]
        if not token.startswith(b":"):
            break
        old_mode, new_mode, old_blob, new_blob, status = token[1:].split(b" ")
        letter = chr(status[0])
        similarity = int(status[1:]) if len(status) > 1 else None
        if letter in "RC":
            files.append(RawFile(letter, similarity, old_mode, new_mode, tokens[index + 1], tokens[index + 2], 0, 0,
                                 old_blob=old_blob, new_blob=new_blob))
            index += 3
        else:
            files.append(RawFile(letter, similarity, old_mode, new_mode, None, tokens[index + 1], 0, 0,
                                 old_blob=old_blob, new_blob=new_blob))
            index += 2
    for entry in files:  # numstat entries, same order as raw
        added, deleted, rest = tokens[index].split(b"\t", 2)
        index += 1 if rest else 3
        if added == b"-":
            entry.insertions = entry.deletions = None
        else:
            entry.insertions = int(added)
            entry.deletions = int(deleted)
    return files


def attach_patches(commit: RawCommit, sections: list[bytes]) -> None:
    wanted = sum(2 if f.status == "T" else 1 for f in commit.files)
    if len(sections) != wanted:
        commit.patch_misaligned = True
        return
    position = 0
    for entry in commit.files:
        if entry.status == "T":
            entry.patch = sections[position] + sections[position + 1]
            position += 2
        else:
            entry.patch = sections[position]
            position += 1
