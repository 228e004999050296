"""The one small interface every Qdrant back end implements.

A store holds two collections, "commits" and "chunks", each with a metadata record naming
the model and text layout its vectors came from. Everything above this module (embedding,
search, file relevance, context, the HTTP API) speaks only this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gitlm.errors import GitlmError

# Payload indexes: author/email/paths are keyword matches, timestamp an integer range,
# commit_hash finds a commit's chunks, flags ("merge", "mainline") narrow file relevance.
KEYWORD_FIELDS = ("author", "email", "paths", "commit_hash", "flags")
INTEGER_FIELDS = ("timestamp",)


class IndexMissingError(GitlmError):
    """There is no index to search yet; the message says what to run."""


@dataclass
class StoredPoint:
    id: str
    vector: list[float] | None
    payload: dict[str, Any]


@dataclass
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass
class SearchFilter:
    """Conditions a hit must meet; None = no condition.

    author matches the author's name or e-mail exactly; path_prefix matches a touched path
    or any of its parent directories (whole components: "src/app" matches "src/app/x.py",
    not "src/application.py"); since/until bound the author timestamp (unix seconds, inclusive).
    """

    author: str | None = None
    path_prefix: str | None = None
    since: int | None = None
    until: int | None = None
    exclude_merges: bool = False
    mainline_only: bool = False

    def is_empty(self) -> bool:
        return not (self.author or self.path_prefix or self.since is not None or self.until is not None
                    or self.exclude_merges or self.mainline_only)


@dataclass
class CollectionMeta:
    """What the vectors of a collection mean: compare before adding to or querying it."""

    dim: int
    model: str
    model_path: str
    model_fingerprint: str
    text_format: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"dim": self.dim, "model": self.model, "model_path": self.model_path,
                "model_fingerprint": self.model_fingerprint, "text_format": self.text_format, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionMeta:
        known = {"dim", "model", "model_path", "model_fingerprint", "text_format"}
        return cls(dim=int(data["dim"]), model=str(data.get("model", "")), model_path=str(data.get("model_path", "")),
                   model_fingerprint=str(data.get("model_fingerprint", "")), text_format=str(data.get("text_format", "")),
                   extra={k: v for k, v in data.items() if k not in known})

    def same_vectors(self, other: CollectionMeta) -> bool:
        """True when vectors made under `other` can share a collection with these."""
        return (self.dim == other.dim and self.model_fingerprint == other.model_fingerprint
                and self.text_format == other.text_format)


class VectorStore(ABC):
    """Two collections of points (commits, chunks) with payload filters."""

    backend: str
    location: str

    @abstractmethod
    def meta(self, kind: str) -> CollectionMeta | None:
        """The collection's metadata, or None when the collection does not exist."""

    @abstractmethod
    def create(self, kind: str, meta: CollectionMeta) -> None:
        """Create the collection (dropping any old one) with payload indexes."""

    @abstractmethod
    def drop(self, kind: str) -> None:
        """Delete the collection if it exists."""

    @abstractmethod
    def upsert(self, kind: str, points: list[StoredPoint]) -> None: ...

    @abstractmethod
    def delete(self, kind: str, ids: list[str]) -> None: ...

    @abstractmethod
    def existing_ids(self, kind: str, ids: list[str]) -> set[str]:
        """The subset of `ids` already stored."""

    @abstractmethod
    def retrieve(self, kind: str, ids: list[str], with_vectors: bool = True) -> list[StoredPoint]:
        """Stored points for `ids` (missing ones left out), in no particular order."""

    @abstractmethod
    def iter_ids(self, kind: str, page: int = 1024) -> Iterator[str]:
        """Every point id in the collection, page by page."""

    @abstractmethod
    def query(self, kind: str, vector: list[float], limit: int, flt: SearchFilter | None = None) -> list[Hit]:
        """Nearest points by cosine similarity, best first."""

    @abstractmethod
    def latest(self, kind: str, limit: int, flt: SearchFilter | None = None) -> list[StoredPoint]:
        """The `limit` points (matching `flt`) with the highest timestamp, newest first (no vectors)."""

    @abstractmethod
    def count(self, kind: str) -> int: ...

    def finish(self, kind: str) -> bool:
        """Make the collection ready for fast queries (build indexes); True if work was done."""
        return False

    def flush(self) -> None:
        """Make every write durable."""

    @abstractmethod
    def close(self) -> None: ...

    def require(self, kind: str) -> CollectionMeta:
        """The collection's metadata, or an IndexMissingError saying what to run."""
        meta = self.meta(kind)
        if meta is None:
            what = "gitlm embed" if kind == "commits" else "gitlm chunk && gitlm embed"
            raise IndexMissingError(f"no {kind} index at {self.location}; run `{what}` first")
        return meta

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
