"""The temporal split: train on the past, validate and test on the future.

Documents are assigned by time, never shuffled: the oldest `train`% of documents go to
train, the next `val`% to val, the newest to test. The cuts fall between timestamps, and
documents sharing a timestamp always land in the same split, so every val/test document is
strictly newer than every train document (and test than val) even when a history's commit
dates are not monotonic. Both `gitlm tokenize` and `gitlm dataset` use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

SPLITS = ("train", "val", "test")


_NEVER, _ALWAYS = -(2**63), 2**63 - 1  # cut values meaning "takes nothing" / "takes the rest"


class TemporalSplit:
    """Cut points over document timestamps: train ≤ first_cut < val ≤ second_cut < test."""

    def __init__(self, first_cut: int, second_cut: int):
        self.first_cut = first_cut
        self.second_cut = max(second_cut, first_cut)

    @classmethod
    def from_timestamps(cls, timestamps: np.ndarray, percentages: Sequence[int]) -> TemporalSplit:
        """Cuts at the train% and (train+val)% document quantiles (rounded half up); documents
        tied with the last one before a cut go to the earlier split."""
        train, val, _test = percentages
        ordered = np.sort(np.asarray(timestamps, dtype=np.int64))
        n = len(ordered)
        train_end = int(n * train / 100 + 0.5)
        val_end = int(n * (train + val) / 100 + 0.5)
        first = int(ordered[train_end - 1]) if train_end > 0 else _NEVER
        second = _ALWAYS if val_end >= n else int(ordered[val_end - 1]) if val_end > 0 else _NEVER
        return cls(first, second)

    def assign(self, timestamp: int) -> int:
        """0 train, 1 val, 2 test."""
        if timestamp <= self.first_cut:
            return 0
        return 1 if timestamp <= self.second_cut else 2

    def as_dict(self) -> dict[str, str | int | None]:
        """The cuts as unix seconds and ISO dates (None where a split takes nothing or all)."""
        first = None if self.first_cut in (_NEVER, _ALWAYS) else self.first_cut
        second = None if self.second_cut in (_NEVER, _ALWAYS) else self.second_cut
        return {"train_until": first, "val_until": second, "train_until_date": iso(first), "val_until_date": iso(second)}


def iso(timestamp: int | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
