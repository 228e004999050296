"""Exports of an index, and loading them back: embeddings/*.jsonl and qdrant_points.json.

embeddings/commits.jsonl and embeddings/chunks.jsonl: one line per record, in input order:
{"id": <point id>, <every payload key>, "vector": [...]}.

embeddings/qdrant_points.json: `[{"id", "vector", "payload"}, ...]`, commits then chunks,
one point per line; payload["kind"] ("commit" or "chunk") says which collection a point
belongs to, so `gitlm index load` can rebuild both anywhere. Vector components are written
with 9 significant digits, the fewest that bring every float32 back bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from gitlm.embed.store.base import StoredPoint
from gitlm.errors import BadInputError

EMBEDDINGS_DIR = "embeddings"
POINTS_FILE = "qdrant_points.json"

_encoder = msgspec.json.Encoder()


def vector_json(vector: list[float]) -> bytes:
    return ("[" + ",".join(map("{:.9g}".format, vector)) + "]").encode()


def record_line(point: StoredPoint) -> bytes:
    """One embeddings/<kind>.jsonl line: id, payload keys, vector."""
    body = _encoder.encode({"id": point.id, **point.payload})
    return body[:-1] + b',"vector":' + vector_json(point.vector or []) + b"}\n"


def point_json(point: StoredPoint) -> bytes:
    """One qdrant_points.json element: {"id", "vector", "payload"}."""
    return (b'{"id":' + _encoder.encode(point.id) + b',"vector":' + vector_json(point.vector or [])
            + b',"payload":' + _encoder.encode(point.payload) + b"}")


class PointsWriter:
    """Streams points into a JSON array, one element per line."""

    def __init__(self, handle: IO[bytes]):
        self.handle = handle
        self.count = 0
        handle.write(b"[")

    def write(self, point: StoredPoint) -> None:
        self.write_element(point_json(point))

    def write_element(self, element: bytes) -> None:
        """One already-encoded element (a line copied from an earlier export)."""
        self.handle.write((b"\n" if self.count == 0 else b",\n") + element)
        self.count += 1

    def close(self) -> None:
        self.handle.write(b"\n]\n")


class _PointIn(msgspec.Struct):
    id: str | int
    vector: list[float]
    payload: dict[str, Any] = {}


def iter_points_file(path: Path) -> Iterator[StoredPoint]:
    """Points from a qdrant_points.json: line by line when it has gitlm's one-point-per-line
    layout (constant memory), else the whole array at once (any valid JSON layout)."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    decoder = msgspec.json.Decoder(_PointIn)
    done = 0
    with handle:
        if handle.readline().strip() == b"[":
            try:
                for point in _iter_lines(handle, decoder):
                    yield point
                    done += 1
                return
            except _NotLineLayout:
                pass
    for index, point in enumerate(_iter_whole(path)):
        if index >= done:  # the ones before were already read line by line, in the same order
            yield point


class _NotLineLayout(Exception):
    pass


def _iter_lines(handle: IO[bytes], decoder: msgspec.json.Decoder) -> Iterator[StoredPoint]:
    for line in handle:
        line = line.strip()
        if line in (b"]", b""):
            continue
        try:
            point = decoder.decode(line.removesuffix(b","))
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise _NotLineLayout from None
        yield _stored(point)


def _iter_whole(path: Path) -> Iterator[StoredPoint]:
    try:
        points = msgspec.json.decode(path.read_bytes(), type=list[_PointIn])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadInputError(f"{path} is not a list of {{\"id\", \"vector\", \"payload\"}} points: {exc}") from None
    for point in points:
        yield _stored(point)


def _stored(point: _PointIn) -> StoredPoint:
    return StoredPoint(point.id, point.vector, dict(point.payload))  # type: ignore[arg-type]  (Qdrant ids may be ints)


def load_points_file(path: Path, store: Any, model: Any, *, batch: int = 512,
                     on_progress: Any = None) -> dict[str, int]:
    """Upsert every point of a qdrant_points.json into `store` (a VectorStore): points whose
    payload kind is "chunk" go to the chunks collection, all others to commits. A collection
    is (re)created when missing or when its vectors differ in size or model from `model`
    (a ModelInfo: the model the vectors came from, recorded for later queries)."""
    from gitlm.embed.store.base import CollectionMeta
    from gitlm.embed.texts import TEXT_FORMAT

    pending: dict[str, list[StoredPoint]] = {"commits": [], "chunks": []}
    dims: dict[str, int] = {}
    counts = {"commits": 0, "chunks": 0}

    def flush(kind: str) -> None:
        if pending[kind]:
            store.upsert(kind, pending[kind])
            counts[kind] += len(pending[kind])
            if on_progress is not None:
                on_progress(len(pending[kind]))
            pending[kind] = []

    for point in iter_points_file(path):
        kind = "chunks" if point.payload.get("kind") == "chunk" else "commits"
        dim = len(point.vector or [])
        if kind not in dims:
            if dim == 0:
                raise BadInputError(f"{path}: point {point.id} has no vector")
            dims[kind] = dim
            wanted = CollectionMeta(dim=dim, model=model.name, model_path=model.path,
                                    model_fingerprint=model.fingerprint, text_format=TEXT_FORMAT)
            existing = store.meta(kind)
            if existing is None or not existing.same_vectors(wanted):
                store.create(kind, wanted)
        elif dim != dims[kind]:
            raise BadInputError(f"{path}: point {point.id} has a {dim}-d vector, the {kind} before it {dims[kind]}-d")
        pending[kind].append(point)
        if len(pending[kind]) >= batch:
            flush(kind)
    for kind in pending:
        flush(kind)
    for kind in dims:
        store.finish(kind)
    store.flush()
    return counts
