"""File relevance: which files will a task touch, judged by the commits most like it.

For a task description q, take its N nearest non-merge commits c (cosine similarity s_c,
N = `neighbours`, default 50) and F_c, the files each left in the tree (added, modified,
renamed-to). Each commit votes for its files with weight

    w_c = max(s_c, 0)^2 / sqrt(|F_c|)

(squared so the closest commits dominate; divided by sqrt of its size so a sweeping
commit — a reformat, a licence header — does not drown the focused ones), and

    score(f) = sum of w_c over the neighbours c with f in F_c  /  sum of w_c over all neighbours

so a score is the share of the neighbourhood's evidence that points at f (0..1). Before
ranking, each candidate is followed through history: a file whose latest change renamed it
is counted under its new name, and one whose latest change deleted it is dropped, so only
files that exist at the tip of the main branch are proposed (mainline.py says how).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from gitlm.embed.store import SearchFilter

if TYPE_CHECKING:
    from gitlm.embed.search import SemanticIndex

DEFAULT_NEIGHBOURS = 50
MAX_RENAME_HOPS = 8


def commit_weight(similarity: float, files: int) -> float:
    return max(similarity, 0.0) ** 2 / math.sqrt(files) if files else 0.0


def related_files(index: SemanticIndex, query: str, top_k: int = 10, *, neighbours: int | None = None,
                  resolve: bool = True) -> list[dict[str, Any]]:
    """[{"path", "score", "commits", "last_commit", "last_date"}], best first (formula above)."""
    from gitlm.embed.search import commit_files

    hits = index.neighbours(query, "commits", max(neighbours or DEFAULT_NEIGHBOURS, top_k),
                            SearchFilter(exclude_merges=True))
    scores: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    total = 0.0
    for hit in hits:
        files = commit_files(hit.payload)
        weight = commit_weight(hit.score, len(files))
        total += weight
        for path in files:
            scores[path] += weight
            counts[path] += 1
    if total <= 0:
        return []
    ranked = sorted(scores, key=lambda path: (-scores[path], path))
    mainline = resolve and bool(index.latest("commits", 1, SearchFilter(mainline_only=True)))
    results: dict[str, dict[str, Any]] = {}
    for path in ranked:
        if len(results) == top_k:
            break
        current, last = _follow(index, path, mainline) if resolve else (path, None)
        if current is None:
            continue
        entry = results.setdefault(current, {"path": current, "score": 0.0, "commits": 0,
                                             "last_commit": last.get("short_hash") if last else None,
                                             "last_date": last.get("date") if last else None})
        entry["score"] += scores[path] / total
        entry["commits"] += counts[path]
    for entry in results.values():
        entry["score"] = round(entry["score"], 6)
    return sorted(results.values(), key=lambda e: (-e["score"], e["path"]))


def _follow(index: SemanticIndex, path: str, mainline: bool) -> tuple[str | None, dict[str, Any] | None]:
    """The name `path` has at the main branch's tip (None if deleted there), and the latest
    mainline commit that touched it: mainline changes compose to the tip's tree exactly.
    Without mainline marks (no branches), the latest commit of any branch decides."""
    seen = {path}
    for _ in range(MAX_RENAME_HOPS):
        latest = index.latest("commits", 1, SearchFilter(path_prefix=path, mainline_only=mainline))
        if not latest:
            return path, None
        payload = latest[0]
        if path in (payload.get("files_deleted") or []):
            return None, payload
        renamed = {r["old_path"]: r["path"] for r in payload.get("files_renamed") or []}
        new = renamed.get(path)
        if new is None or new in seen:
            return path, payload
        seen.add(new)
        path = new
    return path, None
