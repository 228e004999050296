"""Parse one `git log -z --raw --numstat -p` stream into raw commits.

The stream comes from a single git process for the whole history (PyDriller's main cost is
one git call per commit). With -z, paths are NUL-terminated and never quoted, so any byte
sequence git allows in a name survives. Per commit git writes:

    MARKER hash NUL abbrev NUL parents NUL an NUL ae NUL at NUL aI NUL cn NUL ce NUL ct NUL cI NUL message NUL
    "\\n" then for each file ":oldmode newmode oldsha newsha STATUS" NUL path NUL (R/C: src NUL dst NUL)
    then for each file "ins\\tdel\\tpath" NUL (R/C: "ins\\tdel\\t" NUL src NUL dst NUL)
    then NUL and the unified patch text (which never holds a NUL: files with one are binary)

The raw and numstat lists come from the same diff queue, in the same order, so entry i of
one is entry i of the other; the patch has one `diff --git` section per entry, except that
a type change (file <-> symlink) is printed as a deletion plus an addition: two sections.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

MARKER = b"\x00\x00\x1egitlm\x1e"
LOG_FORMAT = "%x00%x00%x1egitlm%x1e%H%x00%h%x00%P%x00%an%x00%ae%x00%at%x00%aI%x00%cn%x00%ce%x00%ct%x00%cI%x00%B"
HEADER_FIELDS = 12
_SECTION = b"\ndiff --git "
_READ_SIZE = 1 << 20


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
    patch: bytes | None = None


@dataclass(slots=True)
class RawCommit:
    header: list[bytes]  # hash, abbrev, parents, an, ae, at, aI, cn, ce, ct, cI, message
    files: list[RawFile]
    patch_misaligned: bool = False


def iter_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """Split the stream at MARKER; memory holds one commit plus one read block."""
    buffer = b""
    while True:
        block = stream.read(_READ_SIZE)
        if not block:
            break
        buffer += block
        parts = buffer.split(MARKER)
        buffer = parts.pop()
        for part in parts:
            if part:
                yield part
    if buffer:
        yield buffer


def parse_chunk(chunk: bytes, with_patches: bool) -> RawCommit:
    tokens = chunk.split(b"\x00")
    header = tokens[:HEADER_FIELDS]
    files: list[RawFile] = []
    index = HEADER_FIELDS
    count = len(tokens)
    # raw entries
    while index < count:
        token = tokens[index]
        if token.startswith(b"\n"):
            token = token[1:]
        if not token.startswith(b":"):
            break
        old_mode, new_mode, _old, _new, status = token[1:].split(b" ")
        letter = chr(status[0])
        similarity = int(status[1:]) if len(status) > 1 else None
        if letter in "RC":
            files.append(RawFile(letter, similarity, old_mode, new_mode, tokens[index + 1], tokens[index + 2], 0, 0))
            index += 3
        else:
            files.append(RawFile(letter, similarity, old_mode, new_mode, None, tokens[index + 1], 0, 0))
            index += 2
    # numstat entries, same order
    for entry in files:
        added, deleted, rest = tokens[index].split(b"\t", 2)
        index += 3 if not rest else 1
        if added == b"-":
            entry.insertions = entry.deletions = None
        else:
            entry.insertions = int(added)
            entry.deletions = int(deleted)
    commit = RawCommit(header, files)
    if with_patches and files:
        # tokens[index] is the empty token before the patch; the patch is the last token
        patch = tokens[-1] if index < count else b""
        _attach_patches(commit, patch)
    return commit


def _attach_patches(commit: RawCommit, patch: bytes) -> None:
    sections = patch.split(_SECTION)
    if sections and sections[0].startswith(b"diff --git "):
        sections[0] = sections[0][len(b"diff --git "):]
    else:
        sections = sections[1:] if sections and not sections[0] else sections
    wanted = sum(2 if f.status == "T" else 1 for f in commit.files)
    if len(sections) != wanted:
        commit.patch_misaligned = True
        return
    position = 0
    last = len(sections) - 1
    for entry in commit.files:
        take = 2 if entry.status == "T" else 1
        text = b"".join(
            b"diff --git " + sections[i] + (b"\n" if i < last else b"") for i in range(position, position + take)
        )
        entry.patch = text
        position += take
