"""Record types shared by every stage, in one place.

msgspec Structs: typed like dataclasses, but they encode and decode JSON lines an order of
magnitude faster than dataclasses + json or pydantic, which matters when a stage streams
hundreds of thousands of records. Field order is the JSON key order, so outputs are stable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import msgspec

from gitlm.errors import GitlmError

T = TypeVar("T")


class Person(msgspec.Struct, frozen=True):
    name: str
    email: str


class LineStats(msgspec.Struct):
    insertions: int
    deletions: int


class Rename(msgspec.Struct):
    old_path: str
    path: str


class FileChange(msgspec.Struct):
    """One file touched by a commit (merges: against their first parent).

    change_type is git's status letter: A added, M modified, D deleted, R renamed,
    C copied, T type changed (file <-> symlink <-> submodule). insertions/deletions are
    `git log --numstat`'s numbers (0 for binary files, which set is_binary).
    change_frequency counts the earlier scraped commits that touched this file (following
    renames); author_ownership is this commit's author's share of those earlier changes.
    """

    path: str
    old_path: str | None
    change_type: str
    similarity: int | None
    insertions: int
    deletions: int
    is_binary: bool
    is_submodule: bool
    is_symlink: bool
    language: str | None
    patch: str | None
    patch_truncated: bool
    change_frequency: int
    author_ownership: float
    # git's (abbreviated) blob ids of the two sides, as --raw prints them; None for the
    # side that does not exist (A: old, D: new). The chunker reads blobs by these ids.
    old_blob: str | None = None
    new_blob: str | None = None


class Commit(msgspec.Struct):
    """One commit, as written to commits.jsonl (one per line, oldest first).

    commit_number is the commit's index in the chronological order of the whole scraped
    history (oldest = 0). complexity = ln(1 + lines changed) + sqrt(files changed)
    + 0.5 x (languages touched - 1), rounded to 3 decimals: a size-and-spread score, 0 for
    an empty commit.
    """

    hash: str
    abbrev_hash: str
    parents: list[str]
    is_merge: bool
    commit_number: int
    author_name: str
    author_email: str
    author_timestamp: int
    author_date: str
    committer_name: str
    committer_email: str
    committer_timestamp: int
    committer_date: str
    co_authors: list[Person]
    message_subject: str
    message_body: str
    conventional_type: str | None
    conventional_scope: str | None
    is_breaking_change: bool
    referenced_issues: list[int]
    branches: list[str]
    tags: list[str]
    has_tags: bool
    files: list[FileChange]
    files_added: list[str]
    files_modified: list[str]
    files_deleted: list[str]
    files_renamed: list[Rename]
    insertions: int
    deletions: int
    files_changed: int
    total_lines_changed: int
    diff_summary: str
    stats: dict[str, LineStats]
    complexity: float


class CommitMeta(msgspec.Struct):
    """The commit facts a chunk carries so it can be read (or embedded) on its own."""

    author: str
    email: str
    timestamp: int
    subject: str


class Chunk(msgspec.Struct):
    """One semantic unit of a commit's change, as written to chunks.jsonl.

    old_code/new_code hold the whole enclosing syntactic unit (function, method, type,
    impl block, test, config section, Markdown section, or hunk for plain text) before and
    after the commit; patch holds the hunk(s) inside that unit. line_range is 1-based and
    inclusive, in the new file (the old file for deletions).
    """

    chunk_id: str  # <commit_hash>_<index>
    commit_hash: str
    commit_number: int
    file_path: str
    old_path: str | None
    language: str | None
    change_category: str  # git's letter: A, M, D, R, C, T
    change_type: str  # new_function, modified_function, ..., other (documented rules)
    unit_kind: str  # function, method, type, interface, impl, test, module, section, key, hunk, file, group
    function_name: str | None
    module_path: str | None
    old_code: str | None
    new_code: str | None
    patch: str
    line_range: list[int] | None
    additions: int
    deletions: int
    commit_meta: CommitMeta
    related_files: list[str]
    token_estimate: int


_encoder = msgspec.json.Encoder()
_commit_decoder = msgspec.json.Decoder(Commit)


def encode_record(record: msgspec.Struct) -> bytes:
    """One JSON line (no newline) for a .jsonl file."""
    return _encoder.encode(record)


encode_commit = encode_record


def decode_commit(line: bytes | str) -> Commit:
    """Parse one commits.jsonl line back into a Commit (raises msgspec.DecodeError)."""
    return _commit_decoder.decode(line)


def iter_jsonl(path: Path, record_type: type[T], skip: int = 0) -> Iterator[T]:
    """Stream typed records from a .jsonl file, one line at a time, after the first `skip`
    lines (passed over without decoding).

    A missing file or a corrupt line (a truncated write, a hand edit) is a one-line
    GitlmError naming the file and line, never a traceback.
    """
    decoder = msgspec.json.Decoder(record_type)
    try:
        handle = open(path, "rb", buffering=1 << 20)  # lines of whole patches: a small buffer reads them in pieces
    except FileNotFoundError:
        raise GitlmError(f"{path} does not exist; run the phase that writes it first") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if number <= skip or line.isspace():  # (a blank line; strip() would copy every line)
                continue
            try:
                yield decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise GitlmError(f"{path} line {number} is corrupt ({exc}); re-run the phase that wrote it") from None
