"""Incremental scrape: keep the commits already in commits.jsonl, scrape only the new ones.

A re-scrape after new commits must give the same file a full scrape would, byte for byte,
so appending is only done when it is exactly right: the history walk (one cheap `git
rev-list`) must list the recorded commits first, in the recorded order, with nothing new
before or between them. Then the recorded lines are copied (a line is re-encoded only when
the commit's branches or tags changed: a new branch or tag can contain old commits), the
per-file counters and statistics are replayed from them, and `git log -p` runs over the new
commits alone. A rewritten history, a deeper shallow clone, or a new commit dated before
recorded ones breaks the prefix; the caller then scrapes everything again.

Statistics the records cannot replay (decode errors, excluded files, redacted secrets,
shallow-boundary and misaligned-patch counts) are carried over from the previous scrape's
MANIFEST.json entry and the new commits' counts added to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from gitlm.config import PrivacyConfig, ScrapeConfig
from gitlm.schema import Commit, encode_commit
from gitlm.scrape.blobs import LargeBlobs
from gitlm.scrape.git import Repository
from gitlm.scrape.history import FileHistory
from gitlm.scrape.refs import BranchIndex, RefSnapshot
from gitlm.scrape.scraper import Privacy, stream_commits, walk_window
from gitlm.scrape.stats import ScrapeStats

# ScrapeStats fields counted while git's output is parsed, not recoverable from the records
CARRIED = ("shallow_boundary_commits", "patch_misaligned_commits", "secrets_redacted", "files_excluded",
           "excluded_insertions", "excluded_deletions")
CARRIED_MAPS = ("decode_errors", "secrets_by_type", "files_excluded_by_reason")


class _RecordedFile(msgspec.Struct):
    path: str
    old_path: str | None
    change_type: str
    is_binary: bool
    patch_truncated: bool


class _Recorded(msgspec.Struct):
    """The fields of a recorded commit that the replay needs (the rest is skipped unparsed)."""

    hash: str
    parents: list[str]
    commit_number: int
    author_email: str
    author_timestamp: int
    insertions: int
    deletions: int
    branches: list[str]
    tags: list[str]
    files: list[_RecordedFile]


_recorded = msgspec.json.Decoder(_Recorded)
_commit = msgspec.json.Decoder(Commit)


def append_new_commits(
    repo: Repository,
    config: ScrapeConfig,
    privacy: PrivacyConfig,
    refs: RefSnapshot,
    recorded: Path,
    out: IO[bytes],
    stats: ScrapeStats,
    previous_stats: dict[str, Any],
    temp_dir: Path | None,
    *,
    on_start: Callable[[int], None] | None = None,
    on_commit: Callable[[], None] | None = None,
) -> tuple[int, int] | None:
    """Write recorded + new commits to `out`; return (recorded, new) counts, or None when the
    recorded file is not a prefix of the walk (nothing useful is left in `out` then)."""
    stats.branches = len(refs.branches)
    stats.tags = refs.tag_count
    index = BranchIndex(refs, temp_dir)
    large = LargeBlobs(repo, privacy.max_file_size) if privacy.max_file_size else None
    steps = Privacy(privacy, large)
    try:
        walked = index.build(repo)
        items = index.oldest_first(*walk_window(config))
        history = FileHistory()
        kept = _copy_recorded(recorded, items, refs, history, stats, out)
        if kept is None:
            return None
        if large is not None:
            large.wait()
        if on_start is not None:
            on_start(walked - kept)  # what is left of the walk: the new commits (fewer with --since/--until)
        new = 0
        # the rest of the walk; with nothing new, stream_commits still finishes the stats
        for commit in stream_commits(repo, config, refs, items, history, stats, temp_dir, steps):
            out.write(encode_commit(commit))
            out.write(b"\n")
            new += 1
            if on_commit is not None:
                on_commit()
        _carry_over(stats, previous_stats)
        return kept, new
    finally:
        index.close()


def _copy_recorded(recorded: Path, items: Iterator[tuple[int, str, int]], refs: RefSnapshot, history: FileHistory,
                   stats: ScrapeStats, out: IO[bytes]) -> int | None:
    """Copy the recorded lines that the walk lists first, in order; replay their counters."""
    count = 0
    with open(recorded, "rb") as lines:
        for line in lines:
            try:
                number, expected, mask = next(items)
            except StopIteration:
                return None  # the walk lists fewer commits than were recorded
            try:
                record = _recorded.decode(line)
            except msgspec.DecodeError:
                return None  # a damaged file is rebuilt, not extended
            if record.hash != expected or record.commit_number != number:
                return None
            author = FileHistory.author_key(record.author_email)
            for change in record.files:
                history.touch(change.path, change.old_path, change.change_type, author)
                stats.binary_changes += change.is_binary
                stats.truncated_patches += change.patch_truncated
            stats.add_commit(record.author_email, record.author_timestamp, len(record.parents), record.insertions,
                             record.deletions)
            branches, tags = refs.branch_names(mask), refs.tags.get(record.hash, [])
            if branches != record.branches or tags != record.tags:
                commit = _commit.decode(line)
                commit.branches, commit.tags, commit.has_tags = branches, tags, bool(tags)
                out.write(encode_commit(commit))
                out.write(b"\n")
            else:
                out.write(line if line.endswith(b"\n") else line + b"\n")
            count += 1
    return count


def _carry_over(stats: ScrapeStats, previous: dict[str, Any]) -> None:
    for name in CARRIED:
        setattr(stats, name, getattr(stats, name) + int(previous.get(name) or 0))
    for name in CARRIED_MAPS:
        merged = dict(previous.get(name) or {})
        for key, value in getattr(stats, name).items():
            merged[key] = merged.get(key, 0) + value
        setattr(stats, name, dict(sorted(merged.items())))
    if previous.get("decode_error_example") is not None:
        stats.decode_error_example = previous["decode_error_example"]
