"""Phase 2: commits.jsonl -> chunks.jsonl, recorded in MANIFEST.json."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from gitlm.chunk.blobs import BlobStore
from gitlm.chunk.chunker import Chunker
from gitlm.chunk.parallel import chunk_parallel
from gitlm.chunk.stats import ChunkStats
from gitlm.config import GitlmConfig
from gitlm.errors import BadInputError
from gitlm.schema import Chunk, Commit, encode_record, iter_jsonl
from gitlm.scrape.git import Repository, open_repository
from gitlm.workspace import PhaseTimer, Workspace, fingerprint, library_versions

COMMITS = "commits.jsonl"
CHUNKS = "chunks.jsonl"
GRAMMARS = ("tree-sitter", "tree-sitter-python", "tree-sitter-rust", "tree-sitter-javascript", "tree-sitter-typescript",
            "tree-sitter-go", "tree-sitter-java", "tree-sitter-c", "tree-sitter-cpp", "tree-sitter-toml",
            "tree-sitter-yaml", "tree-sitter-json", "tree-sitter-markdown")


def chunk_commits(commits: Iterator[Commit], repo: Repository | Path | str, config: GitlmConfig | None = None,
                  stats: ChunkStats | None = None) -> Iterator[Chunk]:
    """Chunk a stream of Commit records (oldest first) from repository `repo`, lazily:
    in this process when chunk.workers is 1, else in worker processes (default: one per CPU,
    at most 8) that each own a share of the files."""
    config = config or GitlmConfig()
    repo = repo if isinstance(repo, Repository) else open_repository(repo)
    stats = stats if stats is not None else ChunkStats()
    workers = config.chunk.workers or min(_cpus(), 8)
    if workers > 1:
        yield from chunk_parallel(commits, repo, config, stats, workers)
        return
    redactor = _redactor(config)
    with BlobStore(repo, config.chunk.cache_mb << 20) as blobs:
        chunker = Chunker(blobs, config.chunk, stats, redactor.redact if redactor is not None else None)
        yield from chunker.chunk_commits(commits)
        stats.blobs_read, stats.blob_bytes_read, stats.blob_cache_hits = blobs.reads, blobs.bytes_read, blobs.hits
    if redactor is not None:
        stats.secrets_by_type = dict(sorted(redactor.counts.items()))
        stats.secrets_redacted = sum(redactor.counts.values())


def chunk_workspace(
    workspace: Workspace | Path | str,
    config: GitlmConfig | None = None,
    *,
    repo: Path | str | None = None,
    on_start: Callable[[int | None], None] | None = None,
    on_commit: Callable[[], None] | None = None,
) -> ChunkStats:
    """Chunk a scraped workspace: read `commits.jsonl`, write `chunks.jsonl` (atomically),
    record the phase "chunk" in MANIFEST.json, return the stats.

    File contents come from the repository the scrape read (MANIFEST.json's
    repository.path) unless `repo` names it.
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
        if on_start is not None:
            on_start((scrape or {}).get("stats", {}).get("total_commits"))

        def commits() -> Iterator[Commit]:
            for commit in iter_jsonl(workspace.path(COMMITS), Commit):
                yield commit
                if on_commit is not None:
                    on_commit()

        with workspace.atomic_writer(CHUNKS) as out:
            for chunk in chunk_commits(commits(), repository, config, stats):
                out.write(encode_record(chunk))
                out.write(b"\n")
        phase_config = config.chunk.model_dump(mode="json") | {"redact_secrets": config.privacy.redact_secrets}
        workspace.record_phase("chunk", {
            "status": "completed",
            **timer.finish(),
            "outputs": [CHUNKS],
            "stats": stats.as_dict(),
            "config": phase_config,
            "fingerprint": fingerprint((scrape or {}).get("fingerprint"), _file_identity(workspace.path(COMMITS)),
                                       phase_config, library_versions(*GRAMMARS)),
            "error": None,
        })
    return stats


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
