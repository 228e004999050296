"""The records a chunk worker process receives and sends back, as msgspec Structs.

Kept apart from chunker.py, which may run compiled (gitlm/native.py): msgspec reads these
classes' annotations, which only a plain Python module keeps as written.
"""

from __future__ import annotations

import msgspec

from gitlm.chunk.tokens import estimate_tokens
from gitlm.schema import Commit


class Draft(msgspec.Struct, array_like=True):
    """A chunk before its index, commit facts and related files are known (what a worker
    process sends back)."""

    kind: str
    name: str | None
    old_code: str | None
    new_code: str | None
    patch: str
    line_range: list[int] | None
    additions: int
    deletions: int
    change_type: str
    size: int  # estimated tokens of the larger side, for merging

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.old_code) + estimate_tokens(self.new_code) + estimate_tokens(self.patch)


class CommitView(msgspec.Struct, array_like=True):
    """The commit facts a file change's chunks carry (what a worker process receives): the
    fields of Commit they read, by the same names."""

    hash: str
    parents: list[str]
    commit_number: int
    author_name: str
    author_email: str
    author_timestamp: int
    message_subject: str
    conventional_type: str | None

    @classmethod
    def of(cls, commit: Commit) -> CommitView:
        return cls(commit.hash, commit.parents, commit.commit_number, commit.author_name, commit.author_email,
                   commit.author_timestamp, commit.message_subject, commit.conventional_type)
