"""Which files change together: related_files for a chunk, in bounded memory.

For every commit (oldest first, merges left out: they repeat their branch's changes) each
pair of its files counts one co-change. Exact pair counts grow with the square of the files
a history touches, so each file keeps only its `partners` most frequent partners with the
Space-Saving algorithm (a new partner replaces the least frequent one and inherits its
count: the heavy hitters survive, with counts that are upper bounds), and at most
`max_files` files are tracked, the least recently changed forgotten first. Commits touching
more than `max_commit_files` files (mass renames, reformatting) say little about coupling
and are not counted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class CoChangeTracker:
    def __init__(self, partners: int = 16, max_files: int = 50_000, max_commit_files: int = 50):
        self.partners = partners
        self.max_files = max_files
        self.max_commit_files = max_commit_files
        self._counts: OrderedDict[str, dict[str, int]] = OrderedDict()

    def related(self, path: str, limit: int, exclude: set[str] | frozenset[str] = frozenset(), minimum: int = 2) -> list[str]:
        """The files that most often changed with `path` in the history recorded so far (at
        least `minimum` times), most frequent first, ties by path."""
        counts = self._counts.get(path)
        if not counts or limit <= 0:
            return []
        tracked = self._counts  # partners deleted or renamed since are no longer tracked
        ranked = sorted((-count, name) for name, count in counts.items()
                        if count >= minimum and name not in exclude and name in tracked)
        return [name for _, name in ranked[:limit]]

    def record(self, paths: Sequence[str], renames: Sequence[tuple[str, str]] = (), deleted: Sequence[str] = ()) -> None:
        """Count one commit: its files (after renames), its renames (a file's history follows
        it) and its deletions (a deleted file is forgotten)."""
        for old, new in renames:
            moved = self._counts.pop(old, None)
            if moved is not None:
                self._counts[new] = moved
        for path in deleted:
            self._counts.pop(path, None)
        unique = list(dict.fromkeys(p for p in paths if p not in deleted))
        if len(unique) < 2 or len(unique) > self.max_commit_files:
            for path in unique:
                if path in self._counts:
                    self._counts.move_to_end(path)
            return
        for path in unique:
            counts = self._counts.get(path)
            if counts is None:
                counts = self._counts[path] = {}
            else:
                self._counts.move_to_end(path)
            for other in unique:
                if other != path:
                    self._bump(counts, other)
        while len(self._counts) > self.max_files:
            self._counts.popitem(last=False)

    def _bump(self, counts: dict[str, int], other: str) -> None:
        if other in counts:
            counts[other] += 1
        elif len(counts) < self.partners:
            counts[other] = 1
        else:
            floor = min(counts.values())
            weakest = min(name for name, count in counts.items() if count == floor)  # ties: the first name
            del counts[weakest]
            counts[other] = floor + 1
