"""Strategies: how a record stream becomes the documents a tokenizer reads.

Each strategy is a generator step over typed records (Commit, or Chunk for `chunks`) that
yields one Document per record, in the input's (chronological) order. They only format
text; tokenizing, splitting and packing happen downstream, so a new strategy is one new
function here. The README shows one rendered example of each.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from functools import lru_cache

import msgspec

from gitlm.schema import Chunk, Commit, FileChange
from gitlm.tokenize.special import MARKERS, context_token

STRATEGY_NAMES = ("semantic", "hierarchical", "diff-aware", "flat", "chunks")
# Branch names preferred as a commit's `<BRANCH>` when it is on several.
PRIMARY_BRANCHES = ("main", "master", "trunk", "develop", "origin/main", "origin/master", "origin/trunk", "origin/develop")
# Hierarchical: how many commits' first-parent links are remembered (an LRU); a parent older
# than that is reported as not found and the chain stops there. Bounds memory on any history.
HISTORY_CACHE = 65_536


class Marker(str):
    """A structural marker a renderer wrote (as opposed to text from the history).

    Documents keep their parts so only these become special ids: a commit whose text
    happens to contain "<COMMIT>" or "<|endoftext|>" is encoded as that text, not as a
    marker or a document end."""

    __slots__ = ()


class Document(msgspec.Struct):
    """One unit of training text: a commit (or a chunk) rendered by a strategy."""

    doc_id: str  # commit hash, or chunk_id for the chunks strategy
    commit_hash: str
    commit_number: int
    timestamp: int  # unix seconds; committer time for commits, the chunk's commit time for chunks
    parts: list[str]  # text from the history and Marker parts, in order
    text: str = ""  # "".join(parts)

    def __post_init__(self) -> None:
        self.text = "".join(self.parts)


def segments(parts: list[str]) -> list[str]:
    """The parts with adjacent history text merged: text, Marker, text, ... (no empty text)."""
    merged: list[str] = []
    text: list[str] = []
    for part in parts:
        if isinstance(part, Marker):
            if text:
                merged.append("".join(text))
                text = []
            merged.append(part)
        elif part:
            text.append(part)
    if text:
        merged.append("".join(text))
    return merged


class RenderStats(msgspec.Struct):
    """What a renderer noticed while rendering (merged into the tokenize stats)."""

    ancestors_not_found: int = 0  # hierarchical: a first parent outside the remembered window


_MARKER_IN_TEMPLATE = re.compile("(" + "|".join(re.escape(m) for m in sorted(MARKERS, key=len, reverse=True)) + ")")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> tuple[tuple[str, ...], ...]:
    """The pattern's text between `{}` holes, each cut into Marker and text parts."""
    return tuple(
        tuple(Marker(piece) if piece in MARKERS else piece for piece in _MARKER_IN_TEMPLATE.split(chunk) if piece)
        for chunk in pattern.split("{}")
    )


def template(pattern: str, *values: object) -> list[str]:
    """Parts of `pattern` with its `{}` holes filled: markers written in the pattern become
    Marker parts; the values are history text and never become markers."""
    chunks = _compiled(pattern)
    parts: list[str] = list(chunks[0])
    for value, chunk in zip(values, chunks[1:]):
        text = value if isinstance(value, str) else str(value)
        if text:
            parts.append(text)
        parts.extend(chunk)
    return parts


def primary_branch(branches: list[str]) -> str | None:
    """The branch shown for a commit: main/master/trunk/develop when it is on one, else the first."""
    if not branches:
        return None
    present = set(branches)
    for name in PRIMARY_BRANCHES:
        if name in present:
            return name
    return branches[0]


def message(commit: Commit) -> str:
    return f"{commit.message_subject}\n\n{commit.message_body}" if commit.message_body else commit.message_subject


def _header(commit: Commit) -> list[str]:
    parts = template("<COMMIT> {} <AUTHOR> {} <{}> <DATE> {}", commit.abbrev_hash, commit.author_name,
                     commit.author_email, commit.author_date[:10])
    branch = primary_branch(commit.branches)
    if branch is not None:
        parts += template(" <BRANCH> {}", branch)
    for tag in commit.tags:
        parts += template(" <TAG> {}", tag)
    return parts + template(" <MESSAGE> {}", message(commit))


def _counts(commit: Commit) -> list[str]:
    return template(
        "\n<FILE_ADD> {} <FILE_MOD> {} <FILE_DEL> {} <FILE_REN> {} <INSERTIONS> {} <DELETIONS> {}",
        len(commit.files_added), len(commit.files_modified), len(commit.files_deleted), len(commit.files_renamed),
        commit.insertions, commit.deletions,
    )


def render_semantic(commit: Commit) -> list[str]:
    """Structured markers, one commit: who, when, where, why, how much, which files."""
    parts = _header(commit) + _counts(commit)
    if commit.files:
        parts += template(" <FILES> {}", " ".join(context_token("FILE", f.path) for f in commit.files))
    return parts


def hunks(change: FileChange) -> str:
    """A file's patch without git's header lines (diff --git, index, ---/+++): from the first
    hunk on. The path and change type are already in the markers; the header's blob ids would
    only spend tokens."""
    patch = change.patch or ""
    if patch.startswith("@@"):
        return patch
    at = patch.find("\n@@")
    return patch[at + 1:] if at >= 0 else ""


def render_diff_aware(commit: Commit) -> list[str]:
    """The semantic header, then each file's stats and its hunks: the code changes themselves."""
    parts = _header(commit) + _counts(commit)
    for change in commit.files:
        parts += template("\n{} {} <INSERTIONS> {} <DELETIONS> {}", context_token("FILE", change.path),
                          context_token("CHANGE", change.change_type), change.insertions, change.deletions)
        if change.old_path is not None:
            parts += template(" <FROM> {}", change.old_path)
        if change.is_binary:
            parts += template(" <BINARY>")
            continue
        body = hunks(change)
        if body:
            parts += template(" <DIFF>\n{}", body)
        if change.patch_truncated:
            parts += template("<TRUNCATED>")
    return parts


def render_flat(commit: Commit) -> list[str]:
    """Plain text, the baseline: what `git log -p` prints for the commit."""
    lines = [
        f"commit {commit.hash}",
        *([f"Merge: {' '.join(p[:8] for p in commit.parents)}"] if commit.is_merge else []),
        f"Author: {commit.author_name} <{commit.author_email}>",
        f"Date:   {commit.author_date}",
        "",
        *(f"    {line}" if line else "" for line in message(commit).split("\n")),
        "",
    ]
    text = "\n".join(lines)
    patches = "".join(change.patch or "" for change in commit.files)
    return [text + "\n" + patches if patches else text]


def hierarchical(commits: Iterable[Commit], depth: int, stats: RenderStats) -> Iterator[Document]:
    """Each commit preceded by the subjects of its first-parent ancestors (its branch's line
    of history), oldest first, up to `depth` of them."""
    # hash -> (subject, first parent); commits arrive parents-first, so a parent is known
    # unless it fell out of this bounded window or was not scraped (--since, shallow).
    known: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
    for commit in commits:
        chain: list[str] = []
        parent = commit.parents[0] if commit.parents else None
        while parent is not None and len(chain) < depth:
            entry = known.get(parent)
            if entry is None:
                stats.ancestors_not_found += 1
                break
            known.move_to_end(parent)
            chain.append(entry[0])
            parent = entry[1]
        known[commit.hash] = (commit.message_subject, commit.parents[0] if commit.parents else None)
        if len(known) > HISTORY_CACHE:
            known.popitem(last=False)
        parts = template("<HISTORY>")
        for subject in reversed(chain):
            parts += template(" <ANCESTOR> {}", subject)
        yield _commit_document(commit, parts + template("\n") + render_semantic(commit))


def render_chunk(chunk: Chunk) -> list[str]:
    """The hybrid format: context tokens for file, change, author, month and module, then the
    code of the changed unit (after the commit; before it for deletions; the hunk when the
    chunker kept neither)."""
    month = datetime.fromtimestamp(chunk.commit_meta.timestamp, timezone.utc).strftime("%Y-%m")
    context = [
        context_token("FILE", chunk.file_path),
        context_token("CHANGE", chunk.change_type),
        context_token("AUTHOR", chunk.commit_meta.email),
        context_token("TIMESTAMP", month),
    ]
    if chunk.module_path:
        context.append(context_token("MODULE", chunk.module_path))
    code = chunk.new_code if chunk.new_code is not None else chunk.old_code if chunk.old_code is not None else chunk.patch
    if code and not code.endswith("\n"):
        code += "\n"
    return template("<COMMIT_START> {} <CODE_START>\n{}<CODE_END> <COMMIT_END>", " ".join(context), code)


def _commit_document(commit: Commit, parts: list[str]) -> Document:
    return Document(commit.hash, commit.hash, commit.commit_number, commit.committer_timestamp, parts)


def _per_commit(render: Callable[[Commit], list[str]]) -> Callable[[Iterable[Commit]], Iterator[Document]]:
    def step(commits: Iterable[Commit]) -> Iterator[Document]:
        for commit in commits:
            yield _commit_document(commit, render(commit))

    return step


def chunk_documents(chunks: Iterable[Chunk]) -> Iterator[Document]:
    for chunk in chunks:
        yield Document(chunk.chunk_id, chunk.commit_hash, chunk.commit_number, chunk.commit_meta.timestamp, render_chunk(chunk))


semantic = _per_commit(render_semantic)
diff_aware = _per_commit(render_diff_aware)
flat = _per_commit(render_flat)


def render(strategy: str, records: Iterable[Commit] | Iterable[Chunk], *, history_depth: int = 8,
           stats: RenderStats | None = None) -> Iterator[Document]:
    """Documents of `strategy` over `records` (Commits, or Chunks for `chunks`), in order."""
    stats = stats if stats is not None else RenderStats()
    if strategy == "semantic":
        return semantic(records)  # type: ignore[arg-type]
    if strategy == "hierarchical":
        return hierarchical(records, history_depth, stats)  # type: ignore[arg-type]
    if strategy == "diff-aware":
        return diff_aware(records)  # type: ignore[arg-type]
    if strategy == "flat":
        return flat(records)  # type: ignore[arg-type]
    if strategy == "chunks":
        return chunk_documents(records)  # type: ignore[arg-type]
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGY_NAMES)}")
