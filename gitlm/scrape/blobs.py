"""Which blobs are larger than privacy.max_file_size, for the scraper's size filter.

git log's --raw lines name each side's blob by an abbreviated id but not its size. Asking
git for sizes per file would cost a round trip each; instead one
`git cat-file --batch-all-objects --batch-check` lists every object's size once (flask:
26k objects in 0.05 s; ipython: 197k in 0.2 s), read on a thread while the branch index is
built, and only the ids of objects over the limit are kept, so memory grows with the number
of large blobs, not with the repository.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from gitlm.scrape.git import Repository, git_stream

_PREFIX = 7  # git never abbreviates an object id below 7 hex digits


class LargeBlobs:
    """The set of objects bigger than `limit` bytes, looked up by (abbreviated) id."""

    def __init__(self, repo: Repository, limit: int):
        self.limit = limit
        self._by_prefix: dict[bytes, list[bytes]] = defaultdict(list)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(repo,), name="gitlm-blob-sizes", daemon=True)
        self._thread.start()

    def _read(self, repo: Repository) -> None:
        try:
            with git_stream(repo.git_dir, "cat-file", "--batch-all-objects", "--unordered",
                            "--batch-check=%(objectsize) %(objectname)") as stream:
                limit = self.limit
                for line in stream:
                    size, _, name = line.partition(b" ")
                    if int(size) > limit:
                        name = name.rstrip(b"\n")
                        self._by_prefix[name[:_PREFIX]].append(name)
        except BaseException as exc:  # re-raised in wait(), on the scraping thread
            self._error = exc

    def wait(self) -> LargeBlobs:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self

    @property
    def count(self) -> int:
        return sum(len(names) for names in self._by_prefix.values())

    def is_large(self, abbrev: bytes) -> bool:
        """Whether the object with this (unique) abbreviated id is over the limit."""
        abbrev = abbrev.rstrip(b".")  # GIT_PRINT_SHA1_ELLIPSIS=yes appends "..."
        names = self._by_prefix.get(abbrev[:_PREFIX])
        return bool(names) and any(name.startswith(abbrev) for name in names)
