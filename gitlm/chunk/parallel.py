"""Chunking on several cores: worker processes draft file changes, the main process assembles.

Each worker owns a shard of the repository's paths (a hash of the path), so the versions of a
file, and their outlines derived one from the other change after change, stay in one worker's
cache; each runs its own `git cat-file --batch` process. The main process reads the commits,
sends every worker the changes of its files, a batch of commits at a time (two batches in
flight, so no worker waits), and assembles the drafts in commit and file order: chunk ids,
commit facts, related files and the co-change history are the main process's, so the output
does not depend on how the work was spread. Queues carry msgpack bytes; their feeder threads
mean neither side ever blocks on a full pipe while the other waits for it.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import msgspec

from gitlm.chunk.blobs import BlobStore
from gitlm.chunk.chunker import Chunker, CommitView, Draft
from gitlm.chunk.stats import ChunkStats
from gitlm.config import GitlmConfig
from gitlm.errors import GitlmError
from gitlm.schema import Chunk, Commit, FileChange
from gitlm.scrape.git import Repository, open_repository

BATCH = 64  # commits per message
IN_FLIGHT = 2  # batches sent ahead of the one being assembled


class _Job(msgspec.Struct, array_like=True):
    position: int  # the commit's place in its batch
    commit: CommitView
    files: list[tuple[int, FileChange]]


class _Result(msgspec.Struct, array_like=True):
    position: int
    drafts: list[tuple[int, list[Draft]]]


_encode = msgspec.msgpack.Encoder().encode
_jobs = msgspec.msgpack.Decoder(list[_Job])
_results = msgspec.msgpack.Decoder(list[_Result])


def shard(path: str, workers: int) -> int:
    return zlib.crc32(path.encode("utf-8", "surrogateescape")) % workers


def chunk_parallel(commits: Iterable[Commit], repo: Repository, config: GitlmConfig, stats: ChunkStats,
                   workers: int, history: Iterable[Commit] = ()) -> Iterator[Chunk]:
    """Chunk records of the commits, drafted by `workers` processes (see the module docstring);
    `history` (commits chunked before, oldest first) only feeds the co-change counts."""
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    inboxes = [context.Queue() for _ in range(workers)]
    outboxes = [context.Queue() for _ in range(workers)]
    processes = [
        context.Process(target=_work, args=(inboxes[w], outboxes[w], str(repo.path), config.model_dump_json()),
                        name=f"gitlm-chunk-{w}", daemon=True)
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    assembler = Chunker(None, config.chunk, stats)  # type: ignore[arg-type]  (assembles only)
    for commit in history:
        assembler.observe(commit)
    in_flight: deque[list[Commit]] = deque()
    iterator = iter(commits)
    try:
        while batch := list(islice(iterator, BATCH)):
            _send(batch, assembler, inboxes, workers)
            in_flight.append(batch)
            if len(in_flight) > IN_FLIGHT:
                yield from _receive(in_flight.popleft(), assembler, outboxes, processes)
        while in_flight:
            yield from _receive(in_flight.popleft(), assembler, outboxes, processes)
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


def _send(batch: list[Commit], assembler: Chunker, inboxes: list, workers: int) -> None:
    jobs: list[list[_Job]] = [[] for _ in range(workers)]
    for position, commit in enumerate(batch):
        if assembler.skip(commit) or not commit.files:
            continue
        view = CommitView(commit.hash, commit.parents, commit.message_subject, commit.conventional_type)
        split: list[list[tuple[int, FileChange]]] = [[] for _ in range(workers)]
        for index, change in enumerate(commit.files):
            split[shard(change.path, workers)].append((index, change))
        for w, files in enumerate(split):
            if files:
                jobs[w].append(_Job(position, view, files))
    for w, inbox in enumerate(inboxes):
        inbox.put(("jobs", _encode(jobs[w])))


def _receive(batch: list[Commit], assembler: Chunker, outboxes: list, processes: list) -> Iterator[Chunk]:
    drafts: list[list[tuple[int, list[Draft]]]] = [[] for _ in batch]
    for w, outbox in enumerate(outboxes):
        kind, payload = _get(outbox, processes[w])
        if kind != "results":
            raise GitlmError(f"chunk worker {w} failed: {payload}")
        for result in _results.decode(payload):
            drafts[result.position].extend(result.drafts)
    for position, commit in enumerate(batch):
        yield from assembler.assemble(commit, None if assembler.skip(commit) else drafts[position])


def _get(outbox: Any, process: Any) -> tuple[str, Any]:
    while True:
        try:
            return outbox.get(timeout=1.0)
        except queue.Empty:
            if not process.is_alive():
                raise GitlmError(f"chunk worker {process.name} died (exit code {process.exitcode})") from None


def _work(inbox: Any, outbox: Any, repo_path: str, config_json: str) -> None:
    """A worker process: draft the file changes it is sent, one batch at a time."""
    try:
        config = GitlmConfig.model_validate_json(config_json)
        redactor = None
        if config.privacy.redact_secrets:
            from gitlm.privacy import redactor_from_config

            redactor = redactor_from_config(config)
        stats = ChunkStats()
        with BlobStore(open_repository(repo_path), config.chunk.cache_mb << 20) as blobs:
            chunker = Chunker(blobs, config.chunk, stats, redactor.redact if redactor is not None else None)
            while (message := inbox.get()) is not None:
                jobs = _jobs.decode(message[1])
                prepared = [(job, *chunker.prepare(job.commit, job.files)) for job in jobs]
                results = [_Result(job.position, chunker.drafts(job.commit, plans, ticket)) for job, plans, ticket in prepared]
                outbox.put(("results", _encode(results)))
            stats.blobs_read, stats.blob_bytes_read, stats.blob_cache_hits = blobs.reads, blobs.bytes_read, blobs.hits
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
