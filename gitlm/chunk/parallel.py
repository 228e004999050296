"""Chunking on several cores: worker processes chunk file changes, the main process stitches.

Each worker owns a share of the repository's paths, so the versions of a file, and their
outlines derived one from the other change after change, stay in one worker's cache; each
runs its own `git cat-file --batch` process. A path goes to the worker with the least work
so far (see Router) when it is first seen and stays there (a renamed file stays with its worker),
which spreads the work more evenly than a hash of the path: one worker no longer idles while
the other still has a heavy share. The main process reads the commits and keeps the
co-change history (related_files do not depend on how the work is spread); it sends every
worker the changes of its files with their related files, a batch of commits at a time,
several batches ahead, so a worker never waits for the other one. Workers return their
chunks as encoded JSON lines without the chunk id; the main process numbers them in commit
and file order and writes them. Skipped merges' changes go to their files' workers too (see
Chunker.note_merge). Queues carry msgpack bytes; their feeder threads mean neither side
ever blocks on a full pipe while the other waits for it.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import queue
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import msgspec

from gitlm.chunk.blobs import BlobStore
from gitlm.chunk.chunker import Chunker
from gitlm.chunk.records import CommitView
from gitlm.chunk.stats import ChunkStats
from gitlm.config import GitlmConfig
from gitlm.errors import GitlmError
from gitlm.gcpause import PausedGC
from gitlm.schema import Commit, FileChange, encode_record
from gitlm.scrape.git import Repository, open_repository

BATCH = 64  # commits per message
IN_FLIGHT = 6  # batches sent ahead of the one being written
IN_FLIGHT_BYTES = 64 << 20  # ... while their patches stay under this
PATHS = 200_000  # paths whose owner is remembered (the least recently changed are forgotten)
_ID_FIELD = b'{"chunk_id":""'  # how a worker's chunk line starts (the id is the main process's)


class _File(msgspec.Struct, array_like=True):
    index: int  # the file's position in its commit
    change: FileChange
    related: list[str]


class _Job(msgspec.Struct, array_like=True):
    position: int  # the commit's place in its batch
    commit: CommitView
    files: list[_File]
    merge: bool = False  # a skipped merge: its changes are only noted


class _Result(msgspec.Struct, array_like=True):
    position: int
    chunks: list[tuple[int, list[bytes]]]  # (file index, encoded chunks)


_encode = msgspec.msgpack.Encoder().encode
_jobs = msgspec.msgpack.Decoder(list[_Job])
_results = msgspec.msgpack.Decoder(list[_Result])


class Router:
    """Which worker owns a path: the first time a path is seen, the worker with the least
    work so far; then always that one. A change's work is estimated when it is sent (about
    the square root of its patch size), and corrected by what the workers measure: each
    result reports the worker's CPU time, so the work a worker has done counts as it took,
    not as estimated (a few large files parse far more per patch byte than the rest; on
    ipython an estimate alone left one worker with 13.1 s of CPU and the other with 12.6)."""

    def __init__(self, workers: int, capacity: int = PATHS):
        self.load = [0.0] * workers  # estimated work sent to each worker
        self.capacity = capacity
        self._owners: OrderedDict[str, int] = OrderedDict()
        self._done = [0.0] * workers  # the estimate of the work measured so far ...
        self._cpu = [0.0] * workers  # ... and the CPU seconds it took

    def route(self, change: FileChange, weight: bool = True) -> int:
        """The change's worker; `weight`: count its work (a merge's noted change costs little)."""
        owners = self._owners
        worker = owners.pop(change.path, None)
        if worker is None and change.old_path is not None:
            worker = owners.get(change.old_path)  # a rename: its old version is in that worker's cache
        if worker is None:
            worker = self._least_loaded()
        owners[change.path] = worker  # now the most recently changed
        if len(owners) > self.capacity:
            owners.popitem(last=False)
        if weight:
            self.load[worker] += math.sqrt(len(change.patch or "") + 100)
        return worker

    def measured(self, estimated: list[float], cpu: list[float]) -> None:
        """The workers finished the work estimated at `estimated` (the loads when that batch
        was sent) in `cpu` seconds each."""
        self._done = list(estimated)
        self._cpu = list(cpu)

    def _least_loaded(self) -> int:
        load = self.load
        total_cpu = sum(self._cpu)
        if total_cpu <= 0:
            return min(range(len(load)), key=load.__getitem__)
        scale = sum(self._done) / total_cpu  # estimate units per CPU second, over all workers
        done, cpu = self._done, self._cpu
        return min(range(len(load)), key=lambda w: load[w] - done[w] + cpu[w] * scale)


def chunk_parallel(commits: Iterable[Commit], repo: Repository, config: GitlmConfig, stats: ChunkStats,
                   workers: int, history: Iterable[Commit] = (), patches_redacted: bool = False) -> Iterator[bytes]:
    """chunks.jsonl lines (with their line ends) for the commits, chunked by `workers` processes
    (see the module docstring); `history` (commits chunked before, oldest first) only feeds
    the co-change counts; `patches_redacted` as for Chunker."""
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    if config.privacy.redact_secrets and context.get_start_method() == "fork":
        _preload_redactor()
    inboxes = [context.Queue() for _ in range(workers)]
    outboxes = [context.Queue() for _ in range(workers)]
    processes = [
        context.Process(target=_work, args=(inboxes[w], outboxes[w], str(repo.path), config.model_dump_json(), patches_redacted),
                        name=f"gitlm-chunk-{w}", daemon=True)
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    main = Chunker(BlobStore(repo, 0), config.chunk, stats)  # co-change history and counts only: it never reads a blob
    for commit in history:
        main.observe(commit)
    router = Router(workers)
    in_flight: deque[tuple[list[Commit], int, list[float]]] = deque()
    pending_bytes = 0
    iterator = iter(commits)
    try:
        while batch := list(islice(iterator, BATCH)):
            size = _send(batch, main, router, inboxes)
            in_flight.append((batch, size, list(router.load)))
            pending_bytes += size
            while len(in_flight) > IN_FLIGHT or (len(in_flight) > 1 and pending_bytes > IN_FLIGHT_BYTES):
                done, size, estimated = in_flight.popleft()
                pending_bytes -= size
                yield from _receive(done, main, outboxes, processes, router, estimated)
        while in_flight:
            done, _, estimated = in_flight.popleft()
            yield from _receive(done, main, outboxes, processes, router, estimated)
        for inbox in inboxes:
            inbox.put(None)
        for w in range(workers):
            kind, payload = _get(outboxes[w], processes[w])
            if kind != "stats":
                raise GitlmError(f"chunk worker {w} failed: {payload}")
            stats.merge_work(payload)
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for q in inboxes + outboxes:
            q.close()
            q.cancel_join_thread()


def _send(batch: list[Commit], main: Chunker, router: Router, inboxes: list) -> int:
    """Send each worker the batch's changes of its files; return the patch bytes sent.
    related_files are computed here, in commit order, before the commit joins the co-change
    history (as when one process chunks)."""
    jobs: list[list[_Job]] = [[] for _ in inboxes]
    size = 0
    for position, commit in enumerate(batch):
        merge = main.skip(commit)
        if not commit.files:
            continue
        view = CommitView.of(commit)
        paths = dict.fromkeys(change.path for change in commit.files)
        split: list[list[_File]] = [[] for _ in inboxes]
        for index, change in enumerate(commit.files):
            if merge:
                if change.change_type == "M" and change.patch and not change.patch_truncated:
                    split[router.route(change, weight=False)].append(_File(index, change, []))
                continue
            related = [] if _no_chunks(change) else main.related(paths, change)
            split[router.route(change)].append(_File(index, change, related))
            size += len(change.patch or "")
        for w, files in enumerate(split):
            if files:
                jobs[w].append(_Job(position, view, files, merge))
        if not merge:
            main.observe(commit)
    for w, inbox in enumerate(inboxes):
        inbox.put(("jobs", _encode(jobs[w])))
    return size


def _no_chunks(change: FileChange) -> bool:
    """Changes that never become chunks (skipped and counted by the worker)."""
    return change.is_binary or change.is_submodule or change.is_symlink or change.change_type == "T"


def _receive(batch: list[Commit], main: Chunker, outboxes: list, processes: list, router: Router,
             estimated: list[float]) -> Iterator[bytes]:
    chunks: list[list[tuple[int, list[bytes]]]] = [[] for _ in batch]
    cpu = []
    for w, outbox in enumerate(outboxes):
        kind, payload = _get(outbox, processes[w])
        if kind != "results":
            raise GitlmError(f"chunk worker {w} failed: {payload}")
        encoded, seconds = payload
        cpu.append(seconds)
        for result in _results.decode(encoded):
            chunks[result.position].extend(result.chunks)
    router.measured(estimated, cpu)
    stats = main.stats
    for position, commit in enumerate(batch):
        stats.commits += 1
        if main.skip(commit):
            stats.merges_skipped += 1
            continue
        stats.file_changes += len(commit.files)
        number = 0
        for _, lines in sorted(chunks[position], key=lambda item: item[0]):
            for line in lines:
                yield b'{"chunk_id":"%s_%d"%s\n' % (commit.hash.encode(), number, line[len(_ID_FIELD):])
                number += 1
        stats.commits_with_chunks += number > 0


def _get(outbox: Any, process: Any) -> tuple[str, Any]:
    """A worker's next message; a worker that died says so instead of hanging the run."""
    while True:
        try:
            return outbox.get(timeout=1.0)
        except queue.Empty:
            if not process.is_alive():
                raise GitlmError(f"chunk worker {process.name} died (exit code {process.exitcode})") from None


def _preload_redactor() -> None:
    """Import what a redactor imports on its first candidate (detect-secrets, ~0.25 s) once,
    here, so the forked workers share it instead of each importing it."""
    for module in ("detect_secrets.core.plugins.util", "detect_secrets.filters.heuristic", "detect_secrets.plugins.keyword"):
        importlib.import_module(module)


def _work(inbox: Any, outbox: Any, repo_path: str, config_json: str, patches_redacted: bool) -> None:
    """A worker process: chunk the file changes it is sent, one batch at a time."""
    try:
        config = GitlmConfig.model_validate_json(config_json)
        redactor = None
        if config.privacy.redact_secrets:
            from gitlm.privacy import redactor_from_config

            redactor = redactor_from_config(config)
        stats = ChunkStats()
        with BlobStore(open_repository(repo_path), config.chunk.cache_mb << 20) as blobs, PausedGC() as pause:
            chunker = Chunker(blobs, config.chunk, stats, redactor.redact if redactor is not None else None, patches_redacted)
            while (message := inbox.get()) is not None:
                prepared = []
                for job in _jobs.decode(message[1]):
                    pause.step()
                    if job.merge:
                        chunker.note_merge(file.change for file in job.files)
                    else:
                        prepared.append((job, *chunker.prepare(job.commit, [(f.index, f.change) for f in job.files])))
                results = [_Result(job.position, _encoded(chunker, job, chunker.drafts(job.commit, plans, ticket)))
                           for job, plans, ticket in prepared]
                outbox.put(("results", (_encode(results), time.process_time())))
            stats.take_blob_counts(blobs)
        if redactor is not None:
            stats.secrets_by_type = dict(redactor.counts)
            stats.secrets_redacted = sum(redactor.counts.values())
        outbox.put(("stats", stats))
    except BaseException as exc:  # reported by the main process as one line
        detail = str(exc) if isinstance(exc, GitlmError) else f"{type(exc).__name__}: {exc}"
        frames = traceback.extract_tb(exc.__traceback__)
        if frames and not isinstance(exc, GitlmError):
            detail += f" (at {frames[-1].filename}:{frames[-1].lineno})"
        outbox.put(("error", detail))


def _encoded(chunker: Chunker, job: _Job, drafts: list) -> list[tuple[int, list[bytes]]]:
    files = {file.index: file for file in job.files}
    out = []
    for index, file_drafts in drafts:
        if file_drafts:
            file = files[index]
            out.append((index, [encode_record(chunk) for chunk in chunker.records(job.commit, file.change, file_drafts, file.related)]))
    return out
