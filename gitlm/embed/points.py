"""Point ids and payloads: how a commit or a chunk is stored in a Qdrant collection.

Ids are UUIDv5 of "commit:<hash>" / "chunk:<chunk_id>", so the same record always lands on
the same point: a re-run upserts, never duplicates, and an id can be computed without the
index. Payload keys are the ones search filters and results need (documented in README):

commit: kind, commit_hash, short_hash, commit_number, author, email, timestamp (unix, author
time), date (ISO 8601), subject, message, files_added, files_modified, files_deleted,
files_renamed, insertions, deletions, files_changed, is_merge, mainline (on the main branch's
first-parent chain, see mainline.py), flags (the same two facts as keywords "merge" and
"mainline": qdrant-edge-py 0.9 does not match booleans in filters), branch, tags, paths, text.

chunk: kind, chunk_id, commit_hash, short_hash, commit_number, author, email, timestamp, date,
subject, file_path, old_path, language, function_name, change_type, change_category,
unit_kind, line_range, code, paths, text.

`paths` lists every touched path and each of its parent directories ("src", "src/app",
"src/app/views.py"), so a path-prefix filter is one indexed keyword match on either back end.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from gitlm.embed.texts import chunk_code, chunk_text, commit_text, main_branch
from gitlm.schema import Chunk, Commit

KINDS = ("commits", "chunks")
NAMESPACE = uuid.UUID("5b1f3a52-2d7e-4a55-9a0e-6c1d3f0b7e21")
MESSAGE_CHARS = 4000
CODE_CHARS = 4000


def commit_point_id(commit_hash: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"commit:{commit_hash}"))


def chunk_point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"chunk:{chunk_id}"))


def path_prefixes(paths: list[str]) -> list[str]:
    """Every path and each parent directory of it, once, in first-seen order."""
    seen: dict[str, None] = {}
    for path in paths:
        parts = path.split("/")
        for end in range(1, len(parts) + 1):
            seen.setdefault("/".join(parts[:end]))
    return list(seen)


def normalize_path_prefix(prefix: str) -> str:
    """'./src/app/' -> 'src/app': the form stored in `paths`."""
    cleaned = prefix.strip().removeprefix("./").strip("/")
    while "//" in cleaned:
        cleaned = cleaned.replace("//", "/")
    return cleaned


def iso_utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


def touched_paths(commit: Commit) -> list[str]:
    """Every path the commit touched: new names and the old names of renames and copies."""
    paths = [change.path for change in commit.files]
    paths += [change.old_path for change in commit.files if change.old_path]
    return list(dict.fromkeys(paths))


def commit_payload(commit: Commit, text: str | None = None, mainline: bool = False) -> dict[str, Any]:
    message = commit.message_subject + ("\n\n" + commit.message_body if commit.message_body else "")
    return {
        "kind": "commit",
        "commit_hash": commit.hash,
        "short_hash": commit.abbrev_hash,
        "commit_number": commit.commit_number,
        "author": commit.author_name,
        "email": commit.author_email,
        "timestamp": commit.author_timestamp,
        "date": commit.author_date,
        "subject": commit.message_subject,
        "message": message[:MESSAGE_CHARS],
        "files_added": commit.files_added,
        "files_modified": commit.files_modified,
        "files_deleted": commit.files_deleted,
        "files_renamed": [{"old_path": r.old_path, "path": r.path} for r in commit.files_renamed],
        "insertions": commit.insertions,
        "deletions": commit.deletions,
        "files_changed": commit.files_changed,
        "is_merge": commit.is_merge,
        "mainline": mainline,
        "flags": [flag for flag, on in (("merge", commit.is_merge), ("mainline", mainline)) if on],
        "branch": main_branch(commit.branches),
        "tags": commit.tags,
        "paths": path_prefixes(touched_paths(commit)),
        "text": text if text is not None else commit_text(commit),
    }


def chunk_payload(chunk: Chunk, text: str | None = None) -> dict[str, Any]:
    meta = chunk.commit_meta
    paths = [chunk.file_path] + ([chunk.old_path] if chunk.old_path else [])
    return {
        "kind": "chunk",
        "chunk_id": chunk.chunk_id,
        "commit_hash": chunk.commit_hash,
        "short_hash": chunk.commit_hash[:7],
        "commit_number": chunk.commit_number,
        "author": meta.author,
        "email": meta.email,
        "timestamp": meta.timestamp,
        "date": iso_utc(meta.timestamp),
        "subject": meta.subject,
        "file_path": chunk.file_path,
        "old_path": chunk.old_path,
        "language": chunk.language,
        "function_name": chunk.function_name,
        "change_type": chunk.change_type,
        "change_category": chunk.change_category,
        "unit_kind": chunk.unit_kind,
        "line_range": chunk.line_range,
        "code": chunk_code(chunk, CODE_CHARS),
        "paths": path_prefixes(paths),
        "text": text if text is not None else chunk_text(chunk),
    }
