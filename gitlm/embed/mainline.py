"""The mainline: the first-parent chain of the main branch, from its tip back to the root.

Each commit's change is recorded against its first parent, so composing the changes of the
mainline commits in order gives exactly the main branch's current tree. The index marks
those commits (payload `mainline: true`), which lets file relevance ask "what did the latest
mainline change do to this path?" and learn whether the file still exists, or under which
name, without a checkout. Maintenance branches that still carry old paths do not confuse it.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from gitlm.embed.texts import main_branch
from gitlm.errors import GitlmError


class _Link(msgspec.Struct):
    hash: str
    parents: list[str]
    branches: list[str]


def mainline_hashes(commits_path: Path) -> tuple[str | None, set[str]]:
    """(main branch name, hashes of its first-parent chain) from a commits.jsonl.

    commits.jsonl never puts a parent after its child, so the last commit that names a
    branch is that branch's tip; one streaming pass keeps the first-parent links and each
    branch's last commit, then the chain is walked back from the main branch's tip."""
    decoder = msgspec.json.Decoder(_Link)
    first_parent: dict[str, str | None] = {}
    tip: dict[str, str] = {}
    with open(commits_path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                link = decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise GitlmError(f"{commits_path} line {number} is corrupt ({exc}); re-run `gitlm scrape`") from None
            for branch in link.branches:
                tip[branch] = link.hash
            first_parent[link.hash] = link.parents[0] if link.parents else None
    branch = main_branch(sorted(tip))
    if branch is None:
        return None, set()
    chain: set[str] = set()
    current: str | None = tip[branch]
    while current is not None and current not in chain and current in first_parent:
        chain.add(current)
        current = first_parent[current]
    return branch, chain
