"""Per-file history seen so far: change frequency and authorship, following renames.

Memory grows with the number of distinct files and their authors, not with commits.
"""

from __future__ import annotations

import sys


class FileHistory:
    def __init__(self) -> None:
        # path -> [commits that touched it, {author_email: commits by that author}]
        self._files: dict[str, list] = {}
        self.paths_seen: set[str] = set()

    def touch(self, path: str, old_path: str | None, change_type: str, author: str) -> tuple[int, float]:
        """Record one change; return (earlier changes to the file, author's share of them)."""
        if change_type == "R" and old_path is not None:
            entry = self._files.pop(old_path, None) or [0, {}]
        elif change_type == "C":
            entry = [0, {}]  # a copy is a new file; its source keeps its own history
        else:
            entry = self._files.get(path) or [0, {}]
        earlier, by_author = entry
        ownership = round(by_author.get(author, 0) / earlier, 4) if earlier else 0.0
        entry[0] = earlier + 1
        by_author[author] = by_author.get(author, 0) + 1
        self._files[path] = entry
        self.paths_seen.add(path)
        return earlier, ownership

    @staticmethod
    def author_key(email: str) -> str:
        return sys.intern(email.lower())
