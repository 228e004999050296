"""Semantic search over an index: one object that holds the encoder and the store.

`SemanticIndex.open(workspace, config)` is the library entry point behind `gitlm search`,
`gitlm files`, `gitlm context` and the HTTP API:

    from gitlm.embed import SemanticIndex
    with SemanticIndex.open(Workspace("gitlm-out/flask")) as index:
        for hit in index.search("fix cookie handling", top_k=5):
            print(hit["score"], hit["short_hash"], hit["subject"])
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from gitlm.config import GitlmConfig
from gitlm.embed.encoder import Encoder, ModelInfo
from gitlm.embed.points import normalize_path_prefix
from gitlm.embed.store import CollectionMeta, Hit, IndexMissingError, SearchFilter, VectorStore, open_store
from gitlm.errors import BadInputError, GitlmError
from gitlm.workspace import Workspace

KIND_NAMES = {"commits": "commits", "commit": "commits", "chunks": "chunks", "chunk": "chunks"}
MAX_TOP_K = 1000


def parse_when(value: str | int | None, name: str = "date") -> int | None:
    """An ISO date or date-time (UTC when it has no offset), or unix seconds, as unix seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"{name} {value!r} is not an ISO date or date-time (e.g. 2024-01-31 or 2024-01-31T12:00:00+02:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def make_filter(author: str | None = None, path_prefix: str | None = None, since: str | int | None = None,
                until: str | int | None = None) -> SearchFilter:
    prefix = normalize_path_prefix(path_prefix) if path_prefix else None
    flt = SearchFilter(author=(author or "").strip() or None, path_prefix=prefix or None,
                       since=parse_when(since, "since"), until=parse_when(until, "until"))
    if flt.since is not None and flt.until is not None and flt.since > flt.until:
        raise BadInputError("since is after until: nothing can match")
    return flt


def commit_files(payload: dict[str, Any]) -> list[str]:
    """The paths a commit left in the tree: added, modified and renamed-to (not deleted)."""
    renamed = [r["path"] for r in payload.get("files_renamed") or []]
    return list(dict.fromkeys([*(payload.get("files_added") or []), *(payload.get("files_modified") or []), *renamed]))


def hit_result(hit: Hit) -> dict[str, Any]:
    """The JSON shape of one search result (README: "JSON shapes")."""
    p = hit.payload
    base = {
        "score": round(hit.score, 6), "id": hit.id, "kind": p.get("kind", "commit"),
        "commit_hash": p.get("commit_hash"), "short_hash": p.get("short_hash"), "subject": p.get("subject"),
        "author": p.get("author"), "email": p.get("email"), "date": p.get("date"), "timestamp": p.get("timestamp"),
    }
    if base["kind"] == "chunk":
        return base | {key: p.get(key) for key in ("chunk_id", "file_path", "function_name", "change_type", "language",
                                                   "line_range", "code")}
    return base | {
        "branch": p.get("branch"), "files": commit_files(p), "files_deleted": p.get("files_deleted") or [],
        "insertions": p.get("insertions"), "deletions": p.get("deletions"),
    }


class SemanticIndex:
    """An opened index: encode a query once, ask the store, shape the answer."""

    def __init__(self, store: VectorStore, encoder: Encoder | None = None, config: GitlmConfig | None = None,
                 owns_store: bool = True):
        self.store = store
        self.config = config or GitlmConfig()
        self._encoder = encoder
        self._owns_store = owns_store
        self._lock = threading.Lock()  # one query at a time through the engine and the model

    @classmethod
    def open(cls, workspace: Workspace | None, config: GitlmConfig | None = None,
             encoder: Encoder | None = None) -> SemanticIndex:
        config = config or GitlmConfig()
        store = open_store(workspace, config.index)
        try:
            store.require("commits")
        except BaseException:
            store.close()
            raise
        return cls(store, encoder, config)

    # -- the model ---------------------------------------------------------------------

    @property
    def meta(self) -> CollectionMeta:
        return self.store.require("commits")

    def encoder(self) -> Encoder:
        """The model the index was built with: --model/embed.model if given, else the path
        recorded in the index, else the packaged default; its dimension must match."""
        if self._encoder is None:
            meta = self.meta
            model = self.config.embed.model
            if model is None and meta.model_path:
                try:
                    info = ModelInfo.of(meta.model_path)
                    model = info.path if info.fingerprint == meta.model_fingerprint else None
                except BadInputError:
                    model = None
            c = self.config.embed
            encoder = Encoder(model, device=c.device, batch_size=c.batch_size, backend=c.backend, threads=c.threads)
            if meta.model_fingerprint and encoder.info.fingerprint != meta.model_fingerprint:
                raise BadInputError(
                    f"the index was built with the model {meta.model or '?'} ({meta.model_path or 'path unknown'}), "
                    f"not {encoder.info.path}; pass that model with --model PATH"
                )
            if encoder.dim != meta.dim:
                raise BadInputError(
                    f"the index holds {meta.dim}-d vectors from {meta.model or 'another model'} but "
                    f"{encoder.info.name} makes {encoder.dim}-d ones; pass that model with --model PATH"
                )
            self._encoder = encoder
        return self._encoder

    def embed_query(self, text: str) -> list[float]:
        text = (text or "").strip()
        if not text:
            raise BadInputError("the query is empty")
        return self.encoder().encode_query(text).tolist()

    # -- queries -----------------------------------------------------------------------

    def has(self, kind: str) -> bool:
        return self.store.meta(kind) is not None

    def neighbours(self, query: str | list[float], kind: str = "commits", top_k: int = 5,
                   flt: SearchFilter | None = None) -> list[Hit]:
        """Raw nearest points (store hits) for a query text or vector."""
        kind = _kind(kind)
        if not 1 <= top_k <= MAX_TOP_K:
            raise BadInputError(f"top_k must be between 1 and {MAX_TOP_K} (got {top_k})")
        self.store.require(kind)
        with self._lock:
            vector = self.embed_query(query) if isinstance(query, str) else list(query)
            return self.store.query(kind, vector, top_k, flt)

    def search(self, query: str, top_k: int = 5, kind: str = "commits", *, author: str | None = None,
               path_prefix: str | None = None, since: str | int | None = None, until: str | int | None = None) -> list[dict[str, Any]]:
        """The `top_k` commits (or chunks) nearest to `query`, filtered, best first."""
        flt = make_filter(author, path_prefix, since, until)
        return [hit_result(hit) for hit in self.neighbours(query, kind, top_k, flt)]

    def related_files(self, query: str, top_k: int = 10, *, neighbours: int | None = None) -> list[dict[str, Any]]:
        """Files a task described by `query` will likely touch (formula in relevance.py)."""
        from gitlm.embed.relevance import related_files

        return related_files(self, query, top_k, neighbours=neighbours)

    def context(self, query: str, max_tokens: int = 2000) -> dict[str, Any]:
        """A prompt-ready Markdown block for an LLM (see context.py)."""
        from gitlm.embed.context import build_context

        return build_context(self, query, max_tokens)

    def latest(self, kind: str, limit: int, flt: SearchFilter | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [point.payload for point in self.store.latest(_kind(kind), limit, flt)]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: (self.store.count(kind) if self.store.meta(kind) is not None else 0) for kind in ("commits", "chunks")}

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> SemanticIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kind(kind: str) -> str:
    try:
        return KIND_NAMES[kind]
    except KeyError:
        raise BadInputError(f"kind must be commits or chunks (got {kind!r})") from None


__all__ = ["GitlmError", "IndexMissingError", "SemanticIndex", "hit_result", "make_filter", "parse_when"]
