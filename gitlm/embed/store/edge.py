"""The embedded back end: Qdrant's own engine in-process (qdrant-edge-py), on disk.

<workspace>/index/ holds one edge shard per kind (index/commits/, index/chunks/) and
meta.json (each shard's model and text layout). A shard keeps a write-ahead log that one
process holds at a time, so while `gitlm serve` or `gitlm embed` has the index open another
process gets a one-line "in use" error instead of corrupting it. `finish()` runs Qdrant's
optimizers, which build the HNSW graph once a segment passes the indexing threshold; smaller
collections are searched exactly, which at that size is faster anyway.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from gitlm.embed.store.base import (
    INTEGER_FIELDS, KEYWORD_FIELDS, CollectionMeta, Hit, SearchFilter, StoredPoint, VectorStore,
)
from gitlm.errors import GitlmError

META_FILE = "meta.json"
HNSW_M = 16
HNSW_EF_CONSTRUCT = 100
FULL_SCAN_THRESHOLD_KB = 10_000
HNSW_EF = 128  # candidates per query: recall@10 0.997 on commit-like vectors at 20k (bench/search.py)


class EdgeStore(VectorStore):
    backend = "embedded"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.location = str(self.root)
        self._shards: dict[str, qe.EdgeShard] = {}

    # -- metadata ------------------------------------------------------------------------

    def _read_meta(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / META_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise GitlmError(f"{self.root / META_FILE} is corrupt ({exc}); delete {self.root} and run `gitlm embed`") from None

    def _write_meta(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temp = self.root / f".{META_FILE}.tmp-{os.getpid()}"
        temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temp, self.root / META_FILE)

    def meta(self, kind: str) -> CollectionMeta | None:
        entry = self._read_meta().get(kind)
        if entry is None or not (self.root / kind).is_dir():
            return None
        return CollectionMeta.from_dict(entry)

    # -- shards --------------------------------------------------------------------------

    def _shard(self, kind: str) -> qe.EdgeShard:
        shard = self._shards.get(kind)
        if shard is None:
            path = self.root / kind
            if not path.is_dir():
                self.require(kind)
            shard = _open(lambda: qe.EdgeShard.load(str(path)), path)
            self._shards[kind] = shard
        return shard

    def create(self, kind: str, meta: CollectionMeta) -> None:
        self.drop(kind)
        path = self.root / kind
        config = qe.EdgeConfig(
            vectors={"": qe.EdgeVectorParams(size=meta.dim, distance=qe.Distance.Cosine)},
            hnsw_config=qe.HnswIndexConfig(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT,
                                           full_scan_threshold=FULL_SCAN_THRESHOLD_KB),
        )
        shard = _open(lambda: qe.EdgeShard.create(str(path), config), path)
        for name in KEYWORD_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
        for name in INTEGER_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(name, qe.IntegerIndexParams(lookup=True, range=True)))
        self._shards[kind] = shard
        data = self._read_meta()
        data[kind] = meta.as_dict()
        self._write_meta(data)

    def drop(self, kind: str) -> None:
        shard = self._shards.pop(kind, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self.root / kind, ignore_errors=True)
        data = self._read_meta()
        if data.pop(kind, None) is not None:
            self._write_meta(data)

    # -- writes --------------------------------------------------------------------------

    def upsert(self, kind: str, points: list[StoredPoint]) -> None:
        if points:
            batch = [qe.Point(p.id, p.vector, p.payload) for p in points]
            self._shard(kind).update(qe.UpdateOperation.upsert_points(batch))

    def delete(self, kind: str, ids: list[str]) -> None:
        if ids:
            self._shard(kind).update(qe.UpdateOperation.delete_points(list(ids)))

    def finish(self, kind: str) -> bool:
        shard = self._shard(kind)
        shard.flush()
        return bool(shard.optimize())

    def flush(self) -> None:
        for shard in self._shards.values():
            shard.flush()

    def close(self) -> None:
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()

    # -- reads ---------------------------------------------------------------------------

    def existing_ids(self, kind: str, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        records = self._shard(kind).retrieve(list(ids), with_payload=False, with_vector=False)
        return {str(record.id) for record in records}

    def retrieve(self, kind: str, ids: list[str], with_vectors: bool = True) -> list[StoredPoint]:
        if not ids:
            return []
        records = self._shard(kind).retrieve(list(ids), with_payload=True, with_vector=with_vectors)
        return [StoredPoint(str(r.id), _dense(r.vector) if with_vectors else None, dict(r.payload or {})) for r in records]

    def iter_ids(self, kind: str, page: int = 1024) -> Iterator[str]:
        shard = self._shard(kind)
        offset = None
        while True:
            records, offset = shard.scroll(qe.ScrollRequest(offset=offset, limit=page, with_payload=False, with_vector=False))
            for record in records:
                yield str(record.id)
            if offset is None:
                return

    def query(self, kind: str, vector: list[float], limit: int, flt: SearchFilter | None = None) -> list[Hit]:
        request = qe.QueryRequest(limit=limit, query=qe.Query.Nearest(list(vector)), with_payload=True,
                                  with_vector=False, filter=_edge_filter(flt), params=qe.SearchParams(hnsw_ef=HNSW_EF))
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in self._shard(kind).query(request)]

    def latest(self, kind: str, limit: int, flt: SearchFilter | None = None) -> list[StoredPoint]:
        records, _ = self._shard(kind).scroll(qe.ScrollRequest(
            limit=limit, with_payload=True, with_vector=False, filter=_edge_filter(flt),
            order_by=qe.OrderBy("timestamp", direction=qe.Direction.Desc),
        ))
        return [StoredPoint(str(r.id), None, dict(r.payload or {})) for r in records]

    def count(self, kind: str) -> int:
        return int(self._shard(kind).count(qe.CountRequest(exact=True)))

    def indexed_vectors(self, kind: str) -> int:
        """How many vectors sit in an HNSW graph (the rest are searched exactly)."""
        return int(self._shard(kind).info().indexed_vectors_count)


def _open(action, path: Path) -> qe.EdgeShard:
    try:
        return action()
    except Exception as exc:  # the binding raises plain Exception with the engine's message
        message = str(exc)
        if "WouldBlock" in message or "lock" in message.lower():
            raise GitlmError(
                f"the index at {path} is in use by another process (a running `gitlm serve` or `gitlm embed`); "
                "stop it, or query the running server"
            ) from None
        raise GitlmError(f"cannot open the index at {path}: {message.splitlines()[0] if message else exc!r}") from None


def _dense(vector: Any) -> list[float] | None:
    if isinstance(vector, dict):  # named vectors: ours is the default, unnamed one
        vector = vector.get("")
    return list(vector) if vector is not None else None


def _edge_filter(flt: SearchFilter | None) -> qe.Filter | None:
    if flt is None or flt.is_empty():
        return None
    must: list[Any] = []
    if flt.author:
        must.append(qe.Filter(should=[
            qe.FieldCondition(key="author", match=qe.MatchValue(flt.author)),
            qe.FieldCondition(key="email", match=qe.MatchValue(flt.author)),
        ]))
    if flt.path_prefix:
        must.append(qe.FieldCondition(key="paths", match=qe.MatchValue(flt.path_prefix)))
    if flt.since is not None or flt.until is not None:
        must.append(qe.FieldCondition(key="timestamp", range=qe.RangeFloat(
            gte=float(flt.since) if flt.since is not None else None,
            lte=float(flt.until) if flt.until is not None else None,
        )))
    if flt.mainline_only:
        must.append(qe.FieldCondition(key="flags", match=qe.MatchValue("mainline")))
    must_not = [qe.FieldCondition(key="flags", match=qe.MatchValue("merge"))] if flt.exclude_merges else None
    return qe.Filter(must=must or None, must_not=must_not)
