"""Chronological context/target windows over one split's token stream, built as it streams.

Window k starts at s = k·stride: its context is ids[s : s + context_window] and its target
the next target_window ids. Windows continue while the target has at least one real id
(s + context_window < n), so the last targets are shorter and right-padded. A split too
short for one full context (n ≤ context_window, n ≥ 2) gives a single example: its last
min(target_window, n − 1) ids are the target and the ids before them the context,
left-padded so the target still follows the context directly. Masks mark real ids with 1.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import msgspec
import numpy as np


class SourceDocument(msgspec.Struct):
    """The document a stretch of ids came from (for the example's commit/timestamp columns)."""

    start: int  # position of its first id in the split's stream
    end: int  # one past its last id (its end-of-document id included)
    commit_hash: str
    commit_number: int
    timestamp: int


class Example(msgspec.Struct):
    start: int  # position of the window in the split's stream
    context: np.ndarray  # context_window ids (padded)
    target: np.ndarray  # target_window ids (padded)
    context_length: int  # real ids in context (at its end: left padding)
    target_length: int  # real ids in target (at its start: right padding)
    commit_hash: str  # the document of the first target id
    commit_number: int
    timestamp: int
    first_timestamp: int  # oldest and newest document the window touches
    last_timestamp: int


def window_count(tokens: int, context_window: int, stride: int) -> int:
    """Examples a split of `tokens` ids gives (see the module docstring)."""
    if tokens > context_window:
        return -(-(tokens - context_window) // stride)
    return 1 if tokens >= 2 else 0


class WindowBuilder:
    """Feed documents' ids in order; take examples as soon as they are complete."""

    def __init__(self, context_window: int, target_window: int, stride: int, pad_id: int):
        self.context_window = context_window
        self.target_window = target_window
        self.stride = stride
        self.pad_id = pad_id
        self._buffer = np.zeros(0, dtype=np.int64)
        self._buffer_start = 0  # stream position of _buffer[0]
        self._fed = 0
        self._next = 0  # start of the next window
        self._documents: deque[SourceDocument] = deque()
        self.examples = 0

    def feed(self, ids: np.ndarray, commit_hash: str, commit_number: int, timestamp: int) -> Iterator[Example]:
        self._documents.append(SourceDocument(self._fed, self._fed + len(ids), commit_hash, commit_number, timestamp))
        self._buffer = np.concatenate([self._buffer, ids.astype(np.int64, copy=False)])
        self._fed += len(ids)
        span = self.context_window + self.target_window
        while self._next + span <= self._fed:
            yield self._window(self._next, self.context_window, self.target_window)
            self._advance()

    def finish(self) -> Iterator[Example]:
        """The last windows, whose targets run past the end of the split."""
        while self._next + self.context_window < self._fed:
            yield self._window(self._next, self.context_window, min(self.target_window, self._fed - self._next - self.context_window))
            self._advance()
        if self.examples == 0 and self._fed >= 2:
            target = min(self.target_window, self._fed - 1)
            yield self._window(0, self._fed - target, target)

    def _advance(self) -> None:
        self._next += self.stride
        drop = min(self._next, self._fed) - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop
        while self._documents and self._documents[0].end <= self._next:
            self._documents.popleft()

    def _window(self, start: int, context_length: int, target_length: int) -> Example:
        at = start - self._buffer_start
        context = np.full(self.context_window, self.pad_id, dtype=np.int64)
        context[self.context_window - context_length:] = self._buffer[at:at + context_length]
        target = np.full(self.target_window, self.pad_id, dtype=np.int64)
        target[:target_length] = self._buffer[at + context_length:at + context_length + target_length]
        end = start + context_length + target_length
        touched = [d for d in self._documents if d.start < end and d.end > start]
        first_target = start + context_length
        owner = next(d for d in touched if d.start <= first_target < d.end)
        self.examples += 1
        return Example(start, context, target, context_length, target_length, owner.commit_hash, owner.commit_number,
                       owner.timestamp, min(d.timestamp for d in touched), max(d.timestamp for d in touched))
