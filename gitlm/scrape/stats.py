"""ScrapeStats: what a scrape saw, counted as it streams (printed by --stats, kept in MANIFEST.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class ScrapeStats:
    total_commits: int = 0
    merges: int = 0
    octopus_merges: int = 0
    root_commits: int = 0
    insertions: int = 0
    deletions: int = 0
    branches: int = 0
    tags: int = 0
    binary_changes: int = 0
    truncated_patches: int = 0
    shallow_boundary_commits: int = 0
    patch_misaligned_commits: int = 0
    decode_errors: dict[str, int] = field(default_factory=dict)
    decode_error_example: str | None = None
    first_timestamp: int | None = None
    last_timestamp: int | None = None
    _authors: set[str] = field(default_factory=set, repr=False)
    files_touched: int = 0
    # privacy (gitlm.privacy): secrets replaced by placeholders, files left out by the path
    # filters (their lines are not in insertions/deletions above, nor in the records)
    secret_redaction: bool = True
    secrets_redacted: int = 0
    secrets_by_type: dict[str, int] = field(default_factory=dict)
    files_excluded: int = 0
    files_excluded_by_reason: dict[str, int] = field(default_factory=dict)
    excluded_insertions: int = 0
    excluded_deletions: int = 0

    def decode_error(self, kind: str, example: str) -> None:
        self.decode_errors[kind] = self.decode_errors.get(kind, 0) + 1
        if self.decode_error_example is None:
            at = max(0, example.find("\ufffd") - 30)
            self.decode_error_example = f"{kind}: {example[at:at + 60]!r}"

    def exclude_file(self, reason: str, insertions: int, deletions: int) -> None:
        self.files_excluded += 1
        self.files_excluded_by_reason[reason] = self.files_excluded_by_reason.get(reason, 0) + 1
        self.excluded_insertions += insertions
        self.excluded_deletions += deletions

    def add_commit(self, author_email: str, timestamp: int, parents: int, insertions: int, deletions: int) -> None:
        self.total_commits += 1
        self.merges += parents > 1
        self.octopus_merges += parents > 2
        self.root_commits += parents == 0
        self.insertions += insertions
        self.deletions += deletions
        self._authors.add(author_email.lower())
        if self.first_timestamp is None or timestamp < self.first_timestamp:
            self.first_timestamp = timestamp
        if self.last_timestamp is None or timestamp > self.last_timestamp:
            self.last_timestamp = timestamp

    def as_dict(self) -> dict[str, Any]:
        """The figures, with derived ones (percentages, span, rate), JSON-ready."""
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        span_days = 0.0
        if self.first_timestamp is not None and self.last_timestamp is not None:
            span_days = (self.last_timestamp - self.first_timestamp) / 86400
        data.update(
            merge_percentage=round(100 * self.merges / self.total_commits, 2) if self.total_commits else 0.0,
            unique_authors=len(self._authors),
            first_commit_date=_iso(self.first_timestamp),
            last_commit_date=_iso(self.last_timestamp),
            span_days=round(span_days, 2),
            commits_per_day=round(self.total_commits / max(span_days, 1.0), 3) if self.total_commits else 0.0,
            decode_error_total=sum(self.decode_errors.values()),
        )
        return data


def _iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
