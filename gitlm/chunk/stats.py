"""ChunkStats: what a chunking run produced and what it had to work around (printed by
--stats, stored in MANIFEST.json under phases.chunk.stats)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ChunkStats:
    commits: int = 0
    merges_skipped: int = 0  # merge commits left out (chunk.merges: false): their branch commits hold the changes
    commits_with_chunks: int = 0
    file_changes: int = 0
    chunks: int = 0
    by_change_type: Counter = field(default_factory=Counter)
    by_language: Counter = field(default_factory=Counter)
    by_unit_kind: Counter = field(default_factory=Counter)
    by_mode: Counter = field(default_factory=Counter)  # syntax, hunk, file: how each file change was chunked
    skipped: Counter = field(default_factory=Counter)  # binary, submodule, symlink, type_change, missing_blob
    parse_fallbacks: int = 0  # file changes chunked by hunk because a side did not parse
    parse_fallbacks_by_language: Counter = field(default_factory=Counter)
    parse_fallback_example: str | None = None
    whole_file_deletions: int = 0
    pure_renames: int = 0
    split_units: int = 0  # chunks that are a part of a unit larger than max_chunk_tokens
    line_splits: int = 0  # of those, units with no syntactic members to split at (cut in line windows)
    merged_chunks: int = 0  # small neighbours folded into another chunk
    patches_recomputed: int = 0  # diffs recomputed from the blobs (patch truncated or not kept)
    blobs_read: int = 0
    blob_bytes_read: int = 0
    blob_cache_hits: int = 0
    blobs_rebuilt: int = 0  # new versions built from the old one and the patch instead of read
    full_parses: int = 0
    incremental_parses: int = 0  # outlines derived from the previous version by re-parsing the changed region
    incremental_misses: int = 0  # derivations that did not re-parse cleanly (the whole file was parsed)
    tree_reparses: int = 0  # versions after one that does not parse, by tree-sitter's incremental parse of its tree
    long_lines_cut: int = 0  # lines longer than the chunk budget (minified code, inline data) cut with a marker
    decode_errors: int = 0
    secrets_redacted: int = 0
    secrets_by_type: dict[str, int] = field(default_factory=dict)
    tokens_total: int = 0
    tokens_min: int | None = None
    tokens_max: int = 0

    def add_chunk(self, change_type: str, language: str | None, unit_kind: str, tokens: int) -> None:
        self.chunks += 1
        self.by_change_type[change_type] += 1
        self.by_language[language or "unknown"] += 1
        self.by_unit_kind[unit_kind] += 1
        self.tokens_total += tokens
        self.tokens_max = max(self.tokens_max, tokens)
        self.tokens_min = tokens if self.tokens_min is None else min(self.tokens_min, tokens)

    # figures a worker process counts (the commit-level ones are counted by the main process)
    WORK_FIELDS = ("chunks", "by_change_type", "by_language", "by_unit_kind", "tokens_total", "by_mode", "skipped",
                   "parse_fallbacks", "parse_fallbacks_by_language", "whole_file_deletions", "pure_renames",
                   "split_units", "line_splits", "merged_chunks", "patches_recomputed", "blobs_read",
                   "blob_bytes_read", "blob_cache_hits", "blobs_rebuilt", "full_parses", "incremental_parses", "incremental_misses",
                   "tree_reparses", "long_lines_cut", "decode_errors", "secrets_redacted")

    def merge_work(self, other: ChunkStats) -> None:
        """Add a worker's counts of the file-level work to these."""
        for name in self.WORK_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.tokens_max = max(self.tokens_max, other.tokens_max)
        if other.tokens_min is not None:
            self.tokens_min = other.tokens_min if self.tokens_min is None else min(self.tokens_min, other.tokens_min)
        if self.parse_fallback_example is None:
            self.parse_fallback_example = other.parse_fallback_example
        for kind, count in other.secrets_by_type.items():
            self.secrets_by_type[kind] = self.secrets_by_type.get(kind, 0) + count

    def take_blob_counts(self, blobs: Any) -> None:
        """The blob store's counts (gitlm.chunk.blobs.BlobStore), once its work is done."""
        self.blobs_read, self.blob_bytes_read, self.blob_cache_hits = blobs.reads, blobs.bytes_read, blobs.hits
        self.blobs_rebuilt = blobs.rebuilt

    def fallback(self, language: str | None, example: str) -> None:
        self.parse_fallbacks += 1
        self.parse_fallbacks_by_language[language or "unknown"] += 1
        if self.parse_fallback_example is None:
            self.parse_fallback_example = example

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures, with the derived ones (expansion factor, means)."""
        considered = self.commits - self.merges_skipped
        return {
            "commits": self.commits,
            "merges_skipped": self.merges_skipped,
            "commits_with_chunks": self.commits_with_chunks,
            "file_changes": self.file_changes,
            "chunks": self.chunks,
            "expansion_factor": round(self.chunks / self.commits, 3) if self.commits else 0.0,
            "chunks_per_chunked_commit": round(self.chunks / considered, 3) if considered else 0.0,
            "chunks_per_change_type": dict(self.by_change_type.most_common()),
            "chunks_per_language": dict(self.by_language.most_common()),
            "chunks_per_unit_kind": dict(self.by_unit_kind.most_common()),
            "file_changes_by_mode": dict(self.by_mode.most_common()),
            "skipped_file_changes": dict(self.skipped.most_common()),
            "parse_fallbacks": self.parse_fallbacks,
            "parse_fallbacks_by_language": dict(self.parse_fallbacks_by_language.most_common()),
            "parse_fallback_example": self.parse_fallback_example,
            "whole_file_deletions": self.whole_file_deletions,
            "pure_renames": self.pure_renames,
            "split_units": self.split_units,
            "line_splits": self.line_splits,
            "merged_chunks": self.merged_chunks,
            "patches_recomputed": self.patches_recomputed,
            "blobs_read": self.blobs_read,
            "blob_bytes_read": self.blob_bytes_read,
            "blob_cache_hits": self.blob_cache_hits,
            "blobs_rebuilt": self.blobs_rebuilt,
            "full_parses": self.full_parses,
            "incremental_parses": self.incremental_parses,
            "incremental_misses": self.incremental_misses,
            "tree_reparses": self.tree_reparses,
            "long_lines_cut": self.long_lines_cut,
            "decode_errors": self.decode_errors,
            "secrets_redacted": self.secrets_redacted,
            "secrets_by_type": dict(sorted(self.secrets_by_type.items())),
            "tokens_total": self.tokens_total,
            "tokens_mean": round(self.tokens_total / self.chunks, 1) if self.chunks else 0.0,
            "tokens_min": self.tokens_min or 0,
            "tokens_max": self.tokens_max,
        }
