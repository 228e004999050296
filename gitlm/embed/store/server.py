"""The server back end: a Qdrant server or cluster through qdrant-client.

Collections are "<prefix>_commits" and "<prefix>_chunks" (prefix: `index.collection_prefix`,
default "gitlm_<repository name>", so several repositories share one server). Each
collection's metadata field holds the model and text layout of its vectors. qdrant-client's
local mode (`QdrantClient(path=...)` or ":memory:") speaks the same API and stands in for a
server in tests and via `index.qdrant_path`; it searches by brute force and ignores payload
indexes, so it suits small indexes only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from gitlm.embed.store.base import (
    INTEGER_FIELDS, KEYWORD_FIELDS, CollectionMeta, Hit, SearchFilter, StoredPoint, VectorStore,
)
from gitlm.errors import GitlmError

UPSERT_BATCH = 256


class ServerStore(VectorStore):
    backend = "server"

    def __init__(self, client: QdrantClient, prefix: str, location: str):
        self.client = client
        self.prefix = prefix
        self.location = location

    @classmethod
    def connect(cls, url: str | None, api_key: str | None, prefix: str, path: str | None = None,
                timeout: int = 60) -> ServerStore:
        """A store on the server at `url`, or in qdrant-client's local mode at `path`."""
        try:
            if url:
                client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
                return cls(client, prefix, url)
            client = QdrantClient(path=path) if path not in (None, ":memory:") else QdrantClient(location=":memory:")
        except (RuntimeError, ValueError) as exc:
            raise GitlmError(f"cannot open Qdrant at {url or path}: {exc}") from None
        return cls(client, prefix, f"qdrant local mode at {path}")

    def collection(self, kind: str) -> str:
        return f"{self.prefix}_{kind}"

    def _call(self, action, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except UnexpectedResponse as exc:
            raise GitlmError(f"Qdrant at {self.location} answered {exc.status_code}: {_short(exc.content)}") from None
        except ResponseHandlingException as exc:
            raise GitlmError(f"cannot reach Qdrant at {self.location}: {exc}") from None

    def meta(self, kind: str) -> CollectionMeta | None:
        name = self.collection(kind)
        if not self._call(self.client.collection_exists, name):
            return None
        info = self._call(self.client.get_collection, name)
        data = info.config.metadata or {}
        if "dim" not in data:
            vectors = info.config.params.vectors
            size = vectors.size if isinstance(vectors, models.VectorParams) else None
            if size is None:
                raise GitlmError(f"collection {name} at {self.location} has no single dense vector; not a gitlm collection")
            data = {"dim": size, "model": "", "model_path": "", "model_fingerprint": "", "text_format": ""}
        return CollectionMeta.from_dict(dict(data))

    def create(self, kind: str, meta: CollectionMeta) -> None:
        name = self.collection(kind)
        self.drop(kind)
        self._call(self.client.create_collection, name,
                   vectors_config=models.VectorParams(size=meta.dim, distance=models.Distance.COSINE),
                   metadata=meta.as_dict())
        with warnings.catch_warnings():  # local mode warns that it ignores payload indexes
            warnings.simplefilter("ignore", UserWarning)
            for field in KEYWORD_FIELDS:
                self._call(self.client.create_payload_index, name, field, models.PayloadSchemaType.KEYWORD)
            for field in INTEGER_FIELDS:
                self._call(self.client.create_payload_index, name, field,
                           models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=True, range=True))

    def drop(self, kind: str) -> None:
        name = self.collection(kind)
        if self._call(self.client.collection_exists, name):
            self._call(self.client.delete_collection, name)

    def upsert(self, kind: str, points: list[StoredPoint]) -> None:
        for start in range(0, len(points), UPSERT_BATCH):
            batch = [models.PointStruct(id=p.id, vector=p.vector, payload=p.payload) for p in points[start:start + UPSERT_BATCH]]
            self._call(self.client.upsert, self.collection(kind), points=batch, wait=True)

    def delete(self, kind: str, ids: list[str]) -> None:
        if ids:
            self._call(self.client.delete, self.collection(kind), points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def existing_ids(self, kind: str, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        records = self._call(self.client.retrieve, self.collection(kind), list(ids), with_payload=False, with_vectors=False)
        return {str(r.id) for r in records}

    def retrieve(self, kind: str, ids: list[str], with_vectors: bool = True) -> list[StoredPoint]:
        if not ids:
            return []
        records = self._call(self.client.retrieve, self.collection(kind), list(ids), with_payload=True, with_vectors=with_vectors)
        return [StoredPoint(str(r.id), _dense(r.vector) if with_vectors else None, dict(r.payload or {})) for r in records]

    def iter_ids(self, kind: str, page: int = 1024) -> Iterator[str]:
        offset = None
        while True:
            records, offset = self._call(self.client.scroll, self.collection(kind), limit=page, offset=offset,
                                         with_payload=False, with_vectors=False)
            for record in records:
                yield str(record.id)
            if offset is None:
                return

    def query(self, kind: str, vector: list[float], limit: int, flt: SearchFilter | None = None) -> list[Hit]:
        response = self._call(self.client.query_points, self.collection(kind), query=list(vector), limit=limit,
                              query_filter=_client_filter(flt), with_payload=True, with_vectors=False)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def latest(self, kind: str, limit: int, flt: SearchFilter | None = None) -> list[StoredPoint]:
        records, _ = self._call(self.client.scroll, self.collection(kind), limit=limit, with_payload=True, with_vectors=False,
                                scroll_filter=_client_filter(flt),
                                order_by=models.OrderBy(key="timestamp", direction=models.Direction.DESC))
        return [StoredPoint(str(r.id), None, dict(r.payload or {})) for r in records]

    def count(self, kind: str) -> int:
        return int(self._call(self.client.count, self.collection(kind), exact=True).count)

    def close(self) -> None:
        self.client.close()


def _short(content: Any) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    return " ".join(text.split())[:300]


def _dense(vector: Any) -> list[float] | None:
    if isinstance(vector, dict):
        vector = vector.get("")
    return list(vector) if vector is not None else None


def _client_filter(flt: SearchFilter | None) -> models.Filter | None:
    if flt is None or flt.is_empty():
        return None
    must: list[Any] = []
    if flt.author:
        must.append(models.Filter(should=[
            models.FieldCondition(key="author", match=models.MatchValue(value=flt.author)),
            models.FieldCondition(key="email", match=models.MatchValue(value=flt.author)),
        ]))
    if flt.path_prefix:
        must.append(models.FieldCondition(key="paths", match=models.MatchValue(value=flt.path_prefix)))
    if flt.since is not None or flt.until is not None:
        must.append(models.FieldCondition(key="timestamp", range=models.Range(gte=flt.since, lte=flt.until)))
    if flt.mainline_only:
        must.append(models.FieldCondition(key="flags", match=models.MatchValue(value="mainline")))
    must_not = [models.FieldCondition(key="flags", match=models.MatchValue(value="merge"))] if flt.exclude_merges else None
    return models.Filter(must=must or None, must_not=must_not)
