"""Phase 5: commits.jsonl + chunks.jsonl -> vectors in Qdrant, exports, MANIFEST.json.

Incremental by construction: records are read in groups, each group's point ids (derived
from the commit hash / chunk id) are looked up in the index, and only the missing ones are
encoded and upserted. Points whose record has left the input (a rewritten history, a
narrower scrape) are deleted, so the index mirrors the workspace. A change of model or text
layout rebuilds the collection instead of mixing incomparable vectors. Memory is bounded by
one group plus the set of seen point ids.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from gitlm.config import GitlmConfig
from gitlm.embed.encoder import Encoder, ModelInfo
from gitlm.embed.exports import EMBEDDINGS_DIR, POINTS_FILE, PointsWriter, record_line
from gitlm.embed.mainline import mainline_hashes
from gitlm.embed.points import chunk_payload, chunk_point_id, commit_payload, commit_point_id
from gitlm.embed.store import CollectionMeta, StoredPoint, VectorStore, open_store
from gitlm.embed.texts import TEXT_FORMAT, chunk_text, commit_text
from gitlm.errors import BadInputError, GitlmError
from gitlm.privacy import redact_records  # payloads are redacted even if the scrape kept secrets
from gitlm.schema import Chunk, Commit, iter_jsonl
from gitlm.workspace import PhaseTimer, Workspace, fingerprint, library_versions

COMMITS = "commits.jsonl"
CHUNKS = "chunks.jsonl"
GROUP = 1024  # records per lookup/encode/upsert round: large enough for length-sorted batches

ProgressFn = Callable[[str, int], None]


@dataclass
class KindStats:
    """One collection's share of a run."""

    total: int = 0  # records in the input
    encoded: int = 0  # encoded and upserted this run
    already_indexed: int = 0  # skipped: their point was in the index
    removed: int = 0  # points deleted because their record left the input
    rebuilt: bool = False  # collection (re)created: new, or the model/text layout changed
    indexed_points: int = 0  # points in the collection afterwards
    encode_seconds: float = 0.0
    skipped_reason: str | None = None  # why the kind was not embedded at all
    # the points encoded this run, when they all follow every already-indexed record in input
    # order and nothing was removed: the exports are then extended, not rewritten
    appended: list[str] | None = field(default_factory=list, repr=False)


@dataclass
class EmbedStats:
    commits: KindStats = field(default_factory=KindStats)
    chunks: KindStats = field(default_factory=KindStats)
    model: str = ""
    model_path: str = ""
    dim: int = 0
    device: str | None = None
    backend: str = ""
    store: str = ""
    batch_size: int = 0
    index_seconds: float = 0.0
    exports_written: bool = False
    main_branch: str | None = None
    mainline_commits: int = 0

    @property
    def encoded(self) -> int:
        return self.commits.encoded + self.chunks.encoded

    @property
    def encode_seconds(self) -> float:
        return self.commits.encode_seconds + self.chunks.encode_seconds

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["texts_per_second"] = round(self.encoded / self.encode_seconds, 1) if self.encode_seconds > 0 else None
        for kind in ("commits", "chunks"):
            data[kind]["encode_seconds"] = round(data[kind]["encode_seconds"], 3)
            data[kind].pop("appended", None)
        data["index_seconds"] = round(self.index_seconds, 3)
        return data


class _LazyEncoder:
    """Loads the model only when something has to be encoded: a run with nothing new
    starts in a fraction of a second."""

    def __init__(self, config: GitlmConfig):
        self.config = config.embed
        self._encoder: Encoder | None = None

    def get(self) -> Encoder:
        if self._encoder is None:
            c = self.config
            self._encoder = Encoder(c.model, device=c.device, batch_size=c.batch_size, backend=c.backend, threads=c.threads)
        return self._encoder

    @property
    def loaded(self) -> Encoder | None:
        return self._encoder


def embed_workspace(
    workspace: Workspace,
    config: GitlmConfig | None = None,
    *,
    store: VectorStore | None = None,
    encoder: Encoder | None = None,
    on_total: Callable[[str, int], None] | None = None,
    on_progress: ProgressFn | None = None,
) -> EmbedStats:
    """Embed the workspace's commits and chunks into its index; record the phase.

    `store` and `encoder` default to what `config` names (embedded index in
    <workspace>/index/, the configured model); tests and benchmarks pass their own.
    """
    config = config or GitlmConfig()
    stats = EmbedStats(backend=config.embed.backend, batch_size=config.embed.batch_size)
    lazy = _LazyEncoder(config)
    if encoder is not None:
        lazy._encoder = encoder
    model = encoder.info if encoder is not None else ModelInfo.of(config.embed.model)
    stats.model, stats.model_path = model.name, model.path
    owns_store = store is None
    with workspace.lock():
        timer = PhaseTimer()
        store = store or open_store(workspace, config.index)
        stats.store = f"{store.backend} ({store.location})"
        try:
            jobs = _jobs(workspace, config, stats)
            for kind, source, read, make_id, make_text, make_payload in jobs:
                kind_stats = getattr(stats, kind)
                if on_total is not None:
                    on_total(kind, _count_lines(workspace, source))
                _embed_kind(kind, read(), make_id, make_text, make_payload, store, lazy, model, kind_stats,
                            lambda n, kind=kind: on_progress(kind, n) if on_progress else None)
                started = time.perf_counter()
                kind_stats.indexed_points = store.count(kind)
                store.finish(kind)
                stats.index_seconds += time.perf_counter() - started
            stats.dim = _dim(store, lazy)
            if lazy.loaded is not None:
                stats.device = lazy.loaded.device
            changed = any(getattr(stats, k).encoded or getattr(stats, k).removed or getattr(stats, k).rebuilt
                          for k in ("commits", "chunks"))
            outputs = []
            indexed = sum(getattr(stats, job[0]).indexed_points for job in jobs)
            if config.embed.exports and (changed or not _exports_match(workspace, jobs, indexed)):
                added = {job[0]: getattr(stats, job[0]).appended for job in jobs}
                if all(ids is not None for ids in added.values()) and _exports_match(
                        workspace, jobs, indexed - sum(len(ids) for ids in added.values())):
                    kept = {kind: getattr(stats, kind).indexed_points - len(ids) for kind, ids in added.items()}
                    outputs = _extend_exports(workspace, store, jobs, added, kept)
                else:
                    outputs = _write_exports(workspace, store, jobs)
                stats.exports_written = True
            elif config.embed.exports:
                outputs = [f"{EMBEDDINGS_DIR}/{name}" for name in ("commits.jsonl", "chunks.jsonl", POINTS_FILE)
                           if workspace.path(f"{EMBEDDINGS_DIR}/{name}").is_file()]
            store.flush()
        finally:
            if owns_store:
                store.close()
        manifest = workspace.read_manifest()
        inputs = {name: (manifest.get("phases", {}).get(phase) or {}).get("fingerprint")
                  for name, phase in ((COMMITS, "scrape"), (CHUNKS, "chunk"))}
        embed_config = config.embed.model_dump(mode="json")
        workspace.record_phase("embed", {
            "status": "completed",
            **timer.finish(),
            "outputs": (["index/"] if store.backend == "embedded" else []) + outputs,
            "stats": stats.as_dict(),
            "config": embed_config | {"index": config.index.model_dump(mode="json", exclude={"qdrant_api_key"})},
            "fingerprint": fingerprint(inputs, embed_config, model.fingerprint, TEXT_FORMAT),
            "error": None,
        }, versions=manifest.get("versions", {}) | library_versions("sentence-transformers", "torch", "qdrant-edge-py", "qdrant-client"))
    return stats


def _jobs(workspace: Workspace, config: GitlmConfig, stats: EmbedStats) -> list[tuple]:
    jobs: list[tuple] = []
    if config.embed.commits:
        if not workspace.path(COMMITS).is_file():
            raise BadInputError(f"{workspace.path(COMMITS)} does not exist; run `gitlm scrape REPO` first")
        stats.main_branch, chain = mainline_hashes(workspace.path(COMMITS))
        stats.mainline_commits = len(chain)
        jobs.append(("commits", COMMITS, lambda: redact_records(iter_jsonl(workspace.path(COMMITS), Commit), config),
                     lambda c: commit_point_id(c.hash), commit_text,
                     lambda c, text: commit_payload(c, text, c.hash in chain)))
    else:
        stats.commits.skipped_reason = "embed.commits is false"
    if not config.embed.chunks:
        stats.chunks.skipped_reason = "embed.chunks is false"
    elif not workspace.path(CHUNKS).is_file():
        stats.chunks.skipped_reason = "no chunks.jsonl (run `gitlm chunk` to embed code chunks)"
    else:
        jobs.append(("chunks", CHUNKS, lambda: redact_records(iter_jsonl(workspace.path(CHUNKS), Chunk), config),
                     lambda c: chunk_point_id(c.chunk_id), chunk_text, chunk_payload))
    return jobs


def _embed_kind(kind: str, records: Iterator[Any], make_id, make_text, make_payload, store: VectorStore,
                lazy: _LazyEncoder, model: ModelInfo, stats: KindStats, progress: Callable[[int], None]) -> None:
    existing = store.meta(kind)
    if existing is not None and not existing.text_format and store.count(kind) > 0:
        raise GitlmError(f"the {kind} collection at {store.location} holds points gitlm did not write; "
                         "choose another --collection-prefix rather than overwrite it")
    if existing is None or existing.model_fingerprint != model.fingerprint or existing.text_format != TEXT_FORMAT:
        encoder = lazy.get()
        store.create(kind, CollectionMeta(dim=encoder.dim, model=model.name, model_path=model.path,
                                          model_fingerprint=model.fingerprint, text_format=TEXT_FORMAT))
        stats.rebuilt = True
    seen: set[str] = set()
    if stats.rebuilt:
        stats.appended = None
    for group in _batched(records, GROUP):
        ids = [make_id(record) for record in group]
        present = set() if stats.rebuilt else store.existing_ids(kind, ids)
        todo = [(pid, record) for pid, record in zip(ids, group, strict=True) if pid not in present and pid not in seen]
        if stats.appended is not None:
            stats.appended = _still_appended(stats.appended, ids, present, {pid for pid, _ in todo})
        seen.update(ids)
        stats.total += len(group)
        stats.already_indexed += len(group) - len(todo)
        if todo:
            texts = [make_text(record) for _, record in todo]
            encoder = lazy.get()  # loading the model is not encoding time
            started = time.perf_counter()
            vectors = encoder.encode(texts)
            stats.encode_seconds += time.perf_counter() - started
            store.upsert(kind, [StoredPoint(pid, vector.tolist(), make_payload(record, text))
                                for (pid, record), vector, text in zip(todo, vectors, texts, strict=True)])
            stats.encoded += len(todo)
        progress(len(group))
    if not stats.rebuilt:
        stale = [pid for pid in store.iter_ids(kind) if pid not in seen]
        store.delete(kind, stale)
        stats.removed = len(stale)
        if stale:
            stats.appended = None


APPEND_LIMIT = 100_000  # new points remembered for extending the exports; past this they are rewritten


def _still_appended(appended: list[str], ids: list[str], present: set[str], new: set[str]) -> list[str] | None:
    """Extend the list of new ids of an appended-only run with one group, or None when an
    already-indexed record follows a new one (the exports must then be rewritten in order)."""
    for pid in ids:
        if pid in new:
            appended.append(pid)
        elif pid in present and appended:
            return None
    return appended if len(appended) <= APPEND_LIMIT else None


def _write_exports(workspace: Workspace, store: VectorStore, jobs: list[tuple]) -> list[str]:
    """Stream every indexed point, in input order, into the export files."""
    points_name = f"{EMBEDDINGS_DIR}/{POINTS_FILE}"
    outputs = []
    with workspace.atomic_writer(points_name) as points_handle:
        points = PointsWriter(points_handle)
        for kind, _source, read, make_id, *_ in jobs:
            name = f"{EMBEDDINGS_DIR}/{kind}.jsonl"
            with workspace.atomic_writer(name) as records_handle:
                for group in _batched(read(), GROUP):
                    ids = list(dict.fromkeys(make_id(record) for record in group))
                    found = {p.id: p for p in store.retrieve(kind, ids, with_vectors=True)}
                    for pid in ids:
                        point = found.get(pid)
                        if point is not None:
                            records_handle.write(record_line(point))
                            points.write(point)
            outputs.append(name)
        points.close()
    stale = workspace.path(f"{EMBEDDINGS_DIR}/chunks.jsonl")
    if not any(job[0] == "chunks" for job in jobs) and stale.is_file():
        stale.unlink()  # chunks are no longer embedded: an old export would disagree with the index
    return outputs + [points_name]


def _extend_exports(workspace: Workspace, store: VectorStore, jobs: list[tuple], added: dict[str, list[str]],
                    kept: dict[str, int]) -> list[str]:
    """Exports of an appended-only run: the previous files (`kept` points of each kind), then
    the new points of each kind (commits before chunks in qdrant_points.json, as
    _write_exports orders them). Copying the earlier lines as bytes is what makes a
    one-commit re-run cheap."""
    points_name = f"{EMBEDDINGS_DIR}/{POINTS_FILE}"
    outputs = []
    new_points = {kind: [] for kind in added}
    for kind, ids in added.items():
        for group in _batched(ids, GROUP):
            found = {p.id: p for p in store.retrieve(kind, group, with_vectors=True)}
            new_points[kind].extend(found[pid] for pid in group if pid in found)
    for kind, _source, *_ in jobs:
        name = f"{EMBEDDINGS_DIR}/{kind}.jsonl"
        with workspace.atomic_writer(name) as handle, open(workspace.path(name), "rb") as earlier:
            shutil.copyfileobj(earlier, handle, 1 << 20)
            for point in new_points[kind]:
                handle.write(record_line(point))
        outputs.append(name)
    with workspace.atomic_writer(points_name) as handle, open(workspace.path(points_name), "rb") as earlier:
        points = PointsWriter(handle)
        lines = iter(earlier)
        next(lines)  # "["
        for kind, *_ in jobs:
            for line in islice(lines, kept[kind]):
                points.write_element(line.rstrip(b"\n").rstrip(b","))
            for point in new_points[kind]:
                points.write(point)
        points.close()
    return outputs + [points_name]


def _exports_match(workspace: Workspace, jobs: list[tuple], indexed: int) -> bool:
    """True when every export file exists and qdrant_points.json holds `indexed` points
    (one per line between the bracket lines): an interrupted earlier run is re-exported."""
    names = [f"{EMBEDDINGS_DIR}/{job[0]}.jsonl" for job in jobs] + [f"{EMBEDDINGS_DIR}/{POINTS_FILE}"]
    if not all(workspace.path(name).is_file() for name in names):
        return False
    lines = _count_lines(workspace, names[-1])
    return lines - 2 == indexed  # "[", one line per point, "]"


def _dim(store: VectorStore, lazy: _LazyEncoder) -> int:
    if lazy.loaded is not None:
        return lazy.loaded.dim
    for kind in ("commits", "chunks"):
        meta = store.meta(kind)
        if meta is not None:
            return meta.dim
    return 0


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while group := list(islice(iterator, size)):
        yield group


def _count_lines(workspace: Workspace, name: str) -> int:
    count = 0
    with open(workspace.path(name), "rb") as handle:
        while block := handle.read(1 << 22):
            count += block.count(b"\n")
    return count
