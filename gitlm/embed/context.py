"""A prompt-ready Markdown block about a task, for an LLM, within a token budget.

Sections, in this order, each filled until its share of the budget is spent (what a section
leaves unused passes to the next):

1. Relevant commits (35%): subject, short hash, date, files — the nearest commits.
2. Relevant code (35%): the nearest code chunks (path, function, commit, the code in a fenced
   block, cut at a line end to fit) — only when the index has chunks.
3. Likely files (15%): `gitlm files` for the task, with scores.
4. Recent activity by area (15%): the areas (first two directories of a path) touched by the
   most of the newest 200 non-merge commits, with their count and latest commit.

Tokens are estimated as ceil(characters / 4), the usual rule of thumb for English and code
with GPT-style tokenizers; the estimate is returned with the text.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from gitlm.embed.store import SearchFilter

if TYPE_CHECKING:
    from gitlm.embed.search import SemanticIndex

COMMITS = 8
CHUNKS = 5
FILES = 10
RECENT_COMMITS = 200
AREAS = 8
SHARES = (("commits", 0.35), ("code", 0.35), ("files", 0.15), ("recent", 0.15))
MIN_TOKENS = 64
FILES_SHOWN = 6


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def area_of(path: str) -> str:
    """The area a path belongs to: its first two directories ("src/flask/"), its first one,
    or "(root)" for a top-level file."""
    parts = path.split("/")[:-1]
    return "/".join(parts[:2]) + "/" if parts else "(root)"


def build_context(index: SemanticIndex, query: str, max_tokens: int = 2000) -> dict[str, Any]:
    """{"query", "markdown", "tokens", "max_tokens", "sections": {name: items shown}}."""
    from gitlm.errors import BadInputError

    if max_tokens < MIN_TOKENS:
        raise BadInputError(f"max_tokens must be at least {MIN_TOKENS} (got {max_tokens})")
    header = f"# Repository context for: {' '.join(query.split())}\n"
    budget = max_tokens - estimate_tokens(header)
    builders = {
        "commits": lambda: _commit_items(index, query),
        "code": lambda: _code_items(index, query) if index.has("chunks") else ("", []),
        "files": lambda: _file_items(index, query),
        "recent": lambda: _recent_items(index),
    }
    titles = {"commits": "Relevant commits", "code": "Relevant code", "files": "Likely files",
              "recent": "Recent activity by area"}
    parts = [header]
    shown: dict[str, int] = {}
    carry = 0
    for name, share in SHARES:
        allowance = int(max_tokens * share) + carry
        allowance = min(allowance, budget)
        intro, items = builders[name]()
        section, used, count = _fill(f"\n## {titles[name]}\n\n{intro}", items, allowance)
        shown[name] = count
        if count:
            parts.append(section)
            budget -= used
        carry = max(allowance - used, 0)
    markdown = "".join(parts)
    return {"query": query, "markdown": markdown, "tokens": estimate_tokens(markdown), "max_tokens": max_tokens,
            "sections": shown}


def _fill(title: str, items: list[tuple[str, str | None]], allowance: int) -> tuple[str, int, int]:
    """Add items (text, cuttable code or None) under `title` while they fit `allowance`."""
    text = title
    count = 0
    for line, code in items:
        candidate = text + line
        if code is not None:
            room = (allowance - estimate_tokens(candidate + "```\n```\n")) * 4
            if room < 200:
                break
            body = code if len(code) <= room else code[: max(code.rfind("\n", 0, room), 0) or room] + "\n…"
            candidate += f"```\n{body.rstrip()}\n```\n\n"
        if estimate_tokens(candidate) > allowance:
            break
        text = candidate
        count += 1
    return (text, estimate_tokens(text), count) if count else ("", 0, 0)


def _files_line(files: list[str]) -> str:
    shown = ", ".join(f"`{f}`" for f in files[:FILES_SHOWN])
    more = len(files) - FILES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _commit_items(index: SemanticIndex, query: str) -> tuple[str, list[tuple[str, str | None]]]:
    items = []
    for hit in index.search(query, top_k=COMMITS):
        line = f"- `{hit['short_hash']}` {str(hit['date'])[:10]} {hit['subject']} (by {hit['author']}, similarity {hit['score']:.2f})\n"
        files = hit["files"] + hit["files_deleted"]
        if files:
            line += f"  files: {_files_line(files)}\n"
        items.append((line, None))
    return "", items


def _code_items(index: SemanticIndex, query: str) -> tuple[str, list[tuple[str, str | None]]]:
    items = []
    for hit in index.search(query, top_k=CHUNKS, kind="chunks"):
        name = f" — `{hit['function_name']}`" if hit.get("function_name") else ""
        line = (f"### `{hit['file_path']}`{name}\n"
                f"{hit['change_type']} in `{hit['short_hash']}` {str(hit['date'])[:10]} {hit['subject']}\n\n")
        items.append((line, hit.get("code") or ""))
    return "", items


def _file_items(index: SemanticIndex, query: str) -> tuple[str, list[tuple[str, str | None]]]:
    return "", [(f"- `{f['path']}` (score {f['score']:.3f}, {f['commits']} similar commits)\n", None)
                for f in index.related_files(query, top_k=FILES)]


def _recent_items(index: SemanticIndex) -> tuple[str, list[tuple[str, str | None]]]:
    latest = index.latest("commits", RECENT_COMMITS, SearchFilter(exclude_merges=True))
    counts: Counter[str] = Counter()
    newest: dict[str, dict[str, Any]] = {}
    for payload in latest:  # newest first
        files = list(payload.get("files_added") or []) + list(payload.get("files_modified") or []) + \
            list(payload.get("files_deleted") or []) + [r["path"] for r in payload.get("files_renamed") or []]
        for area in dict.fromkeys(area_of(path) for path in files):
            counts[area] += 1
            newest.setdefault(area, payload)
    if not counts:
        return "", []
    span = f"{str(latest[-1].get('date'))[:10]} to {str(latest[0].get('date'))[:10]}"
    intro = f"Areas touched most by the newest {len(latest)} non-merge commits ({span}):\n\n"
    items: list[tuple[str, str | None]] = []
    for area, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:AREAS]:
        last = newest[area]
        items.append((f"- `{area}` — {count} commits, latest `{last.get('short_hash')}` "
                      f"{str(last.get('date'))[:10]} {last.get('subject')}\n", None))
    return intro, items
