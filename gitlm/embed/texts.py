"""The text each commit and each chunk is embedded as.

A sentence encoder reads a few hundred word pieces (all-MiniLM-L6-v2: 256) and weights the
start most, so the text leads with what a person would search for and trims the rest:

commit::

    <subject>
    <body: its first 6 non-empty lines, trailers such as Signed-off-by: left out, 200 chars each>
    Added: <path>, ...          (each list: at most 20 paths, then "and N more")
    Modified: <path>, ...
    Deleted: <path>, ...
    Renamed: <old> -> <new>, ...
    Author: <name>
    Branch: <branch>
    Changes: Files changed: 3, Insertions: +245, Deletions: -18

chunk::

    <file path> :: <function name, or the unit kind when it has none>
    <change type> (<commit subject>)
    <code: the unit after the commit, or before it for a deletion, or the patch; 2,000 chars>

Lines with nothing to say are left out. TEXT_FORMAT names this layout: an index built with
another layout is re-encoded rather than mixed.
"""

from __future__ import annotations

from gitlm.schema import Chunk, Commit

TEXT_FORMAT = "gitlm-text-1"

BODY_LINES = 6
LINE_CHARS = 200
FILES_PER_LIST = 20
CODE_CHARS = 2000

_KNOWN_TRAILERS = ("signed-off-by:", "co-authored-by:", "reviewed-by:", "acked-by:", "tested-by:",
                   "reported-by:", "suggested-by:", "change-id:", "cc:", "helped-by:")


def main_branch(branches: list[str]) -> str | None:
    """One branch to name a commit by: main/master (local, then remote) when it is on them,
    else the first in sorted order."""
    if not branches:
        return None
    for preferred in ("main", "master", "origin/main", "origin/master", "trunk", "develop"):
        if preferred in branches:
            return preferred
    return sorted(branches)[0]


def body_lines(body: str) -> list[str]:
    """The first BODY_LINES meaningful lines of a commit body (no trailers, no blank lines)."""
    lines = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line or line.lower().startswith(_KNOWN_TRAILERS):
            continue
        lines.append(line[:LINE_CHARS])
        if len(lines) == BODY_LINES:
            break
    return lines


def _file_list(label: str, paths: list[str]) -> str | None:
    if not paths:
        return None
    shown = ", ".join(paths[:FILES_PER_LIST])
    more = len(paths) - FILES_PER_LIST
    return f"{label}: {shown}" + (f" and {more} more" if more > 0 else "")


def commit_text(commit: Commit) -> str:
    """The text a commit is embedded as (layout in the module docstring)."""
    renamed = [f"{r.old_path} -> {r.path}" for r in commit.files_renamed]
    branch = main_branch(commit.branches)
    parts = [
        commit.message_subject.strip()[: LINE_CHARS * 2],
        *body_lines(commit.message_body),
        _file_list("Added", commit.files_added),
        _file_list("Modified", commit.files_modified),
        _file_list("Deleted", commit.files_deleted),
        _file_list("Renamed", renamed),
        f"Author: {commit.author_name}" if commit.author_name else None,
        f"Branch: {branch}" if branch else None,
        f"Changes: {commit.diff_summary}" if commit.diff_summary else None,
    ]
    return "\n".join(part for part in parts if part)


def chunk_code(chunk: Chunk, limit: int = CODE_CHARS) -> str:
    """The code a chunk stands for: the unit after the commit, before it for a deletion,
    else its patch; cut at the last line end within `limit` characters."""
    code = chunk.new_code or chunk.old_code or chunk.patch or ""
    if len(code) <= limit:
        return code
    cut = code.rfind("\n", 0, limit)
    return code[: cut if cut > 0 else limit]


def chunk_text(chunk: Chunk) -> str:
    """The text a chunk is embedded as (layout in the module docstring)."""
    name = chunk.function_name or chunk.unit_kind
    subject = chunk.commit_meta.subject.strip()
    parts = [
        f"{chunk.file_path} :: {name}" if name else chunk.file_path,
        f"{chunk.change_type} ({subject[:LINE_CHARS]})" if subject else chunk.change_type,
        chunk_code(chunk),
    ]
    return "\n".join(part for part in parts if part)
