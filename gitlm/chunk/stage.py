"""Phase 2: commits.jsonl -> chunks.jsonl, recorded in MANIFEST.json."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from gitlm import native
from gitlm.chunk.blobs import BlobStore
from gitlm.chunk.chunker import Chunker
from gitlm.chunk.parallel import chunk_parallel
from gitlm.chunk.stats import ChunkStats
from gitlm.config import GitlmConfig
from gitlm.errors import BadInputError
from gitlm.gcpause import PausedGC
from gitlm.schema import Chunk, Commit, encode_record, iter_jsonl
from gitlm.scrape.git import Repository, open_repository
from gitlm.workspace import PhaseTimer, Workspace, fingerprint, library_versions

COMMITS = "commits.jsonl"
CHUNKS = "chunks.jsonl"
GRAMMARS = ("tree-sitter", "tree-sitter-python", "tree-sitter-rust", "tree-sitter-javascript", "tree-sitter-typescript",
            "tree-sitter-go", "tree-sitter-java", "tree-sitter-c", "tree-sitter-cpp", "tree-sitter-toml",
            "tree-sitter-yaml", "tree-sitter-json", "tree-sitter-markdown")


class _SeenFile(msgspec.Struct):
    path: str
    old_path: str | None
    change_type: str


class _Seen(msgspec.Struct):
    """What the co-change replay reads of a commit chunked by an earlier run."""

    hash: str
    is_merge: bool
    files: list[_SeenFile]


def chunk_commits(commits: Iterator[Commit], repo: Repository | Path | str, config: GitlmConfig | None = None,
                  stats: ChunkStats | None = None, history: Iterable[Any] = ()) -> Iterator[Chunk]:
    """Chunk a stream of Commit records (oldest first) from repository `repo`, lazily:
    in this process when chunk.workers is 1, else in worker processes (default: one per CPU,
    at most 8) that each own a share of the files. `history`: the commits before these,
    chunked by an earlier run, replayed into the co-change counts only."""
    config = config or GitlmConfig()
    if _workers(config) > 1:
        decode = msgspec.json.Decoder(Chunk).decode
        for line in _chunk_lines(commits, repo, config, stats, history):
            yield decode(line)
        return
    yield from _chunk_here(commits, repo, config, stats, history)


def _chunk_lines(commits: Iterator[Commit], repo: Repository | Path | str, config: GitlmConfig,
                 stats: ChunkStats | None, history: Iterable[Any], patches_redacted: bool = False) -> Iterator[bytes]:
    """chunks.jsonl lines (with their line ends): from the worker processes as they encoded
    them, or encoded here. `patches_redacted`: the commits' patches went through a redactor
    with this config's settings (see Chunker)."""
    if _workers(config) > 1:
        repo = repo if isinstance(repo, Repository) else open_repository(repo)
        stats = stats if stats is not None else ChunkStats()
        yield from chunk_parallel(commits, repo, config, stats, _workers(config), history, patches_redacted)
        return
    for chunk in _chunk_here(commits, repo, config, stats, history, patches_redacted):
        yield encode_record(chunk) + b"\n"


def _chunk_here(commits: Iterator[Commit], repo: Repository | Path | str, config: GitlmConfig,
                stats: ChunkStats | None, history: Iterable[Any], patches_redacted: bool = False) -> Iterator[Chunk]:
    repo = repo if isinstance(repo, Repository) else open_repository(repo)
    stats = stats if stats is not None else ChunkStats()
    redactor = _redactor(config)
    with BlobStore(repo, config.chunk.cache_mb << 20) as blobs:
        chunker = Chunker(blobs, config.chunk, stats, redactor.redact if redactor is not None else None, patches_redacted)
        for commit in history:
            chunker.observe(commit)
        yield from chunker.chunk_commits(commits)
        stats.take_blob_counts(blobs)
    if redactor is not None:
        stats.secrets_by_type = dict(sorted(redactor.counts.items()))
        stats.secrets_redacted = sum(redactor.counts.values())


def chunk_workspace(
    workspace: Workspace | Path | str,
    config: GitlmConfig | None = None,
    *,
    repo: Path | str | None = None,
    incremental: bool = False,
    on_start: Callable[[int | None], None] | None = None,
    on_commit: Callable[[], None] | None = None,
) -> ChunkStats:
    """Chunk a scraped workspace: read `commits.jsonl`, write `chunks.jsonl` (atomically),
    record the phase "chunk" in MANIFEST.json, return the stats.

    File contents come from the repository the scrape read (MANIFEST.json's
    repository.path) unless `repo` names it. With `incremental`, when the previous chunk run
    used the same settings on the same scrape lineage (the scrape only appended commits
    since), its chunks are kept and only the commits after the ones it covered are chunked;
    the stats then describe this run's work and the phase records the totals.
    """
    config = config or GitlmConfig()
    workspace = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace))
    manifest = workspace.read_manifest()
    scrape = manifest.get("phases", {}).get("scrape")
    if not workspace.path(COMMITS).is_file():
        raise BadInputError(f"{workspace.path(COMMITS)} does not exist; run `gitlm scrape` first")
    location = repo if repo is not None else (manifest.get("repository") or {}).get("path")
    if location is None:
        raise BadInputError(f"{workspace.root}/MANIFEST.json does not name the repository; pass --repo")
    if repo is None and not Path(location).exists():
        raise BadInputError(f"repository {location} (from MANIFEST.json) no longer exists; pass --repo")
    repository = open_repository(location)
    stats = ChunkStats()
    with workspace.lock():
        timer = PhaseTimer()
        phase_config = config.chunk.model_dump(mode="json") | {"redact_secrets": config.privacy.redact_secrets}
        versions = library_versions(*GRAMMARS)
        lineage = (scrape or {}).get("lineage")
        previous = manifest.get("phases", {}).get("chunk") or {}
        kept = 0
        if (incremental and lineage and previous.get("status") == "completed" and previous.get("lineage") == lineage
                and previous.get("config") == phase_config and previous.get("grammars") == versions
                and workspace.path(CHUNKS).is_file()):
            kept = int(previous.get("commits_covered") or 0)
        if kept and _hash_of_line(workspace.path(COMMITS), kept) != previous.get("last_commit"):
            kept = 0  # not the commits it covered: chunk everything
        # read lazily, the co-change replay of the kept commits first, then the new ones
        history = itertools.islice(iter_jsonl(workspace.path(COMMITS), _Seen), kept)
        records = iter_jsonl(workspace.path(COMMITS), Commit, skip=kept)
        if on_start is not None:
            total = (scrape or {}).get("stats", {}).get("total_commits")
            on_start(total - kept if total is not None else None)
        covered: int = kept
        last: str | None = previous.get("last_commit") if kept else None

        pause = PausedGC()

        def commits() -> Iterator[Commit]:
            nonlocal covered, last
            for commit in records:
                yield commit
                pause.step()
                covered += 1
                last = commit.hash
                if on_commit is not None:
                    on_commit()

        total_chunks = 0
        with workspace.atomic_writer(CHUNKS) as out, pause:
            if kept:
                with open(workspace.path(CHUNKS), "rb") as earlier:
                    for line in earlier:
                        out.write(line)
                        total_chunks += 1
            for line in _chunk_lines(commits(), repository, config, stats, history, _patches_redacted(scrape, config)):
                out.write(line)
                total_chunks += 1
        workspace.record_phase("chunk", {
            "status": "completed",
            **timer.finish(),
            "outputs": [CHUNKS],
            "stats": stats.as_dict(),
            "config": phase_config,
            "fingerprint": fingerprint((scrape or {}).get("fingerprint"), _file_identity(workspace.path(COMMITS)),
                                       phase_config, versions),
            "mode": "incremental" if kept else "full",
            "lineage": lineage,
            "grammars": versions,
            "native": native.STATUS,  # the chunker's modules compiled or plain Python (gitlm/native.py)
            "commits_kept": kept,
            "commits_covered": covered,
            "last_commit": last,
            "total_chunks": total_chunks,
            "error": None,
        })
    return stats


def _hash_of_line(path: Path, number: int) -> str | None:
    """The hash of commits.jsonl's record `number` (1-based), or None when it has fewer lines."""
    with open(path, "rb") as lines:
        for line in itertools.islice(lines, number - 1, number):
            try:
                return msgspec.json.decode(line, type=_Seen).hash
            except msgspec.DecodeError:
                return None
    return None


def _patches_redacted(scrape: dict | None, config: GitlmConfig) -> bool:
    """Whether the scrape (its MANIFEST.json entry) redacted the patches as this config would."""
    privacy = ((scrape or {}).get("config") or {}).get("privacy") or {}
    return (config.privacy.redact_secrets and privacy.get("redact_secrets") is True
            and privacy.get("min_entropy") == config.privacy.min_entropy)


def _workers(config: GitlmConfig) -> int:
    return config.chunk.workers or min(_cpus(), 8)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on
    except AttributeError:
        return os.cpu_count() or 1


def _redactor(config: GitlmConfig):
    if not config.privacy.redact_secrets:
        return None
    from gitlm.privacy import redactor_from_config

    return redactor_from_config(config)


def _file_identity(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]
