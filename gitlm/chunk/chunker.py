"""One commit's file changes -> Chunk records.

How each file change is chunked (counted in stats.file_changes_by_mode):
- syntax: a language in the table (gitlm/chunk/languages.py) or INI: both versions of the
  file are read from git, outlined, and each touched unit becomes a chunk (select.py);
- hunk: any other text, or a file that does not parse (a parse fallback, counted), one
  chunk per hunk of the diff (large hunks cut into line windows);
- file: a whole-file deletion or a rename/copy without changes: one chunk that records it,
  without code (the deleted code is in the chunks of the commits that wrote it).
Binary files, submodules, symlinks and file<->symlink changes carry no text to chunk: they
are skipped and counted. Merge commits are skipped unless chunk.merges is set.

Outlines (outline.py) are parsed once per file version and derived from the previous
version where one is known: from the old side of the change, from the first parent's version
for a version a skipped merge wrote (note_merge), and by tree-sitter's incremental parse of
the previous tree for a version after one that does not parse (_after_error).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gitlm.chunk.blobs import Blob, BlobRequest, BlobStore, Ticket
from gitlm.chunk.cochange import CoChangeTracker
from gitlm.chunk.diff import Diff, Hunk, apply_patch, diff_texts, parse_patch
from gitlm.chunk.ini import INI, ini_outline
from gitlm.chunk.languages import Analyzer, analyzer_for
from gitlm.chunk.outline import Extractor, LineIndex, Outline, edited_tree
from gitlm.chunk.records import CommitView, Draft
from gitlm.chunk.rules import change_type
from gitlm.chunk.select import Selector, Side, Target
from gitlm.chunk.stats import ChunkStats
from gitlm.chunk.tokens import CHARS_PER_TOKEN, estimate_tokens
from gitlm.config import ChunkConfig
from gitlm.schema import Chunk, Commit, CommitMeta, FileChange

LOOKAHEAD = 32  # commits whose blobs are asked for before the current one is chunked
MERGE_VERSIONS = 8192  # file versions written by skipped merges whose outline can be derived later
MERGE_PATCH_BYTES = 32 << 20  # the patches kept for them
MERGE_CHAIN = 8  # merges in a row whose versions are rebuilt to derive the last one's outline
ERROR_TREE_BYTES = 4 << 20  # versions that do not parse whose tree is kept (a tree takes ~16x the text)
TEXT_CACHE = 4096  # unit texts kept (decoded, redacted) for the next change of the same unit


@dataclass(slots=True)
class _Plan:
    """How one file change will be chunked, and the blobs it needs."""

    change: FileChange
    mode: str  # syntax, hunk, file, skip
    index: int = 0  # the file's position in its commit
    analyzer: Analyzer | None = None
    old: BlobRequest | None = None
    new: BlobRequest | None = None
    old_blob: Blob | None = None
    new_blob: Blob | None = None
    as_added: bool = False  # a copy or a root commit's file: everything is new
    rebuild: bool = False  # the new version is built from the old one and the patch (see _rebuilt)
    diff: Diff | None = None  # the parsed patch, once parsed


class Chunker:
    """Chunks commits one at a time; keeps only bounded state between them (the blob cache,
    the co-change counts)."""

    def __init__(self, blobs: BlobStore, config: ChunkConfig, stats: ChunkStats,
                 redact: Callable[[str, str], str] | None = None, patches_redacted: bool = False):
        self.blobs = blobs
        self.config = config
        self.stats = stats
        self.redact = redact
        # the scrape redacted the patches with the same settings: text cut from them needs no
        # second pass (code read from the blobs and recomputed diffs always get one)
        self.patches_redacted = patches_redacted
        self.max_bytes = int(config.max_chunk_tokens * CHARS_PER_TOKEN)
        self.cochange = CoChangeTracker()
        self._extractors: dict[str, Extractor] = {}
        self._texts: OrderedDict[tuple[bytes, str], str] = OrderedDict()
        self._selectors: dict[str, Selector] = {}
        self._merged: OrderedDict[str, tuple[str, str]] = OrderedDict()  # version -> (first parent's, patch)
        self._merged_bytes = 0
        self._trees: OrderedDict[str, tuple[str, Any, int]] = OrderedDict()  # version -> (analyzer, tree, size)
        self._tree_bytes = 0

    # -- commits --------------------------------------------------------------------------------

    def chunk_commits(self, commits: Iterable[Commit]) -> Iterator[Chunk]:
        """Chunk a stream of commits (oldest first), asking git for the blobs of the next
        LOOKAHEAD commits while this one is chunked."""
        window: deque[tuple[Commit, list[_Plan] | None, Ticket | None]] = deque()
        for commit in commits:
            if self.skip(commit):
                self.note_merge(commit.files)
                window.append((commit, None, None))
            else:
                window.append((commit, *self.prepare(commit, list(enumerate(commit.files)))))
            if len(window) > LOOKAHEAD:
                yield from self._finish(*window.popleft())
        while window:
            yield from self._finish(*window.popleft())

    def chunk_commit(self, commit: Commit) -> list[Chunk]:
        """The chunks of one commit."""
        if self.skip(commit):
            return self._finish(commit, None, None)
        return self._finish(commit, *self.prepare(commit, list(enumerate(commit.files))))

    def skip(self, commit: Commit) -> bool:
        """Whether the commit is left out (a merge, unless chunk.merges)."""
        return commit.is_merge and not self.config.merges

    def note_merge(self, changes: Iterable[FileChange]) -> None:
        """Remember how a skipped merge wrote its file versions: from its first parent's, by
        its patch. A version both sides of a merge changed is new to the chunker; when the
        next change of the file meets it, its outline is derived from the first parent's
        (re-parsing what the merge touched) instead of parsed in full."""
        merged = self._merged
        for change in changes:
            if (change.change_type != "M" or not change.patch or change.patch_truncated or not change.old_blob
                    or not change.new_blob or change.language is None or analyzer_for(change.language) is None):
                continue
            previous = merged.pop(change.new_blob, None)
            if previous is not None:
                self._merged_bytes -= len(previous[1])
            merged[change.new_blob] = (change.old_blob, change.patch)
            self._merged_bytes += len(change.patch)
            while len(merged) > MERGE_VERSIONS or self._merged_bytes > MERGE_PATCH_BYTES:
                self._merged_bytes -= len(merged.popitem(last=False)[1][1])

    def prepare(self, commit: CommitView | Commit, changes: list[tuple[int, FileChange]]) -> tuple[list[_Plan], Ticket | None]:
        """Plan each file change and ask git for the blobs they need (answered in the background)."""
        parent = commit.parents[0] if commit.parents else None
        plans = [self._plan(commit, change, parent, index) for index, change in changes]
        requests = [r for plan in plans for r in (plan.old, plan.new) if r is not None]
        return plans, self.blobs.submit(requests) if requests else None

    def drafts(self, commit: CommitView | Commit, plans: list[_Plan], ticket: Ticket | None) -> list[tuple[int, list[Draft]]]:
        """(file index, drafts) for each planned file change."""
        if ticket is not None:
            blobs = iter(self.blobs.resolve(ticket))
            for plan in plans:
                if plan.old is not None:
                    plan.old_blob = next(blobs)
                if plan.new is not None:
                    plan.new_blob = next(blobs)
        out = []
        for plan in plans:
            if plan.rebuild:
                plan.new_blob = self._rebuilt(commit, plan)
            out.append((plan.index, self._drafts(commit, plan)))
            plan.old_blob = plan.new_blob = plan.diff = None
        return out

    def _rebuilt(self, commit: CommitView | Commit, plan: _Plan) -> Blob | None:
        """A modified file's new version: its old version with git's patch applied, kept when
        it hashes to the id git recorded (a patch the scrape redacted or decoded with
        replacement characters does not), else read from git (see BlobStore)."""
        change = plan.change
        old = plan.old_blob
        if old is not None and change.patch is not None and change.new_blob is not None:
            diff = plan.diff = parse_patch(change.patch)
            built = self._spliced(old, diff, change.new_blob)
            if built is not None:
                return built
        return self.blobs.fetch(BlobRequest(change.new_blob, commit.hash, change.path))

    def _spliced(self, old: Blob, diff: Diff, oid: str) -> Blob | None:
        """Version `oid` built from `old` and the diff, kept when it hashes to that id."""
        if not diff.consistent:
            return None
        lines = _lines(old)
        data = apply_patch(diff, old.data, lines.byte, lines.count)
        if data is None or not self.blobs.matches(oid, data):
            return None
        return self.blobs.put(oid, data)

    def _finish(self, commit: Commit, plans: list[_Plan] | None, ticket: Ticket | None) -> list[Chunk]:
        if plans is None:
            return self.assemble(commit, None)
        return self.assemble(commit, self.drafts(commit, plans, ticket))

    def assemble(self, commit: Commit, drafts: list[tuple[int, list[Draft]]] | None) -> list[Chunk]:
        """The commit's Chunk records from its files' drafts (in file order): ids, commit
        facts, related files; and the commit-level counts and co-change history."""
        stats = self.stats
        stats.commits += 1
        if drafts is None:
            stats.merges_skipped += 1
            return []
        stats.file_changes += len(commit.files)
        chunks: list[Chunk] = []
        paths = dict.fromkeys(change.path for change in commit.files)
        for index, file_drafts in sorted(drafts, key=lambda item: item[0]):
            if not file_drafts:
                continue
            change = commit.files[index]
            for chunk in self.records(commit, change, file_drafts, self.related(paths, change)):
                chunk.chunk_id = f"{commit.hash}_{len(chunks)}"
                chunks.append(chunk)
        stats.commits_with_chunks += bool(chunks)
        self._record_cochange(commit)
        return chunks

    def related(self, paths: dict[str, None], change: FileChange) -> list[str]:
        """related_files of a change's chunks: the commit's other files (`paths`: all of
        them, in order, once each), then the files that most often changed with this one in
        the history recorded so far."""
        limit = self.config.max_related_files
        others: list[str] = []
        for path in paths:
            if len(others) == limit:
                break
            if path != change.path:
                others.append(path)
        return others + self.cochange.related(change.path, self.config.co_change_files, exclude=set(others) | {change.path})

    def records(self, commit: CommitView | Commit, change: FileChange, drafts: list[Draft], related: list[str]) -> list[Chunk]:
        """One file change's Chunk records, counted in the stats; chunk_id is left empty (ids
        number the chunks of the whole commit)."""
        meta = CommitMeta(author=commit.author_name, email=commit.author_email,
                          timestamp=commit.author_timestamp, subject=commit.message_subject)
        analyzer = INI if change.language == "ini" else analyzer_for(change.language)
        module = analyzer.module_path(change.path) if analyzer is not None and analyzer.family == "code" else None
        out = []
        for draft in drafts:
            chunk = Chunk(
                chunk_id="", commit_hash=commit.hash, commit_number=commit.commit_number,
                file_path=change.path, old_path=change.old_path, language=change.language,
                change_category=change.change_type, change_type=draft.change_type, unit_kind=draft.kind,
                function_name=draft.name, module_path=module, old_code=draft.old_code, new_code=draft.new_code,
                patch=draft.patch, line_range=draft.line_range, additions=draft.additions, deletions=draft.deletions,
                commit_meta=meta, related_files=related, token_estimate=draft.tokens,
            )
            self.stats.add_chunk(draft.change_type, change.language, draft.kind, chunk.token_estimate)
            out.append(chunk)
        return out

    def observe(self, commit: Commit) -> None:
        """Count a commit chunked by an earlier run in the co-change history only (an
        incremental run replays the recorded commits before chunking the new ones)."""
        if not self.skip(commit):
            self._record_cochange(commit)

    def _record_cochange(self, commit: Commit) -> None:
        renames = [(c.old_path, c.path) for c in commit.files if c.change_type == "R" and c.old_path]
        deleted = [c.path for c in commit.files if c.change_type == "D"]
        self.cochange.record([change.path for change in commit.files], renames, deleted)

    def _plan(self, commit: CommitView | Commit, change: FileChange, parent: str | None, index: int) -> _Plan:
        kind = change.change_type
        stats = self.stats
        if change.is_submodule or change.is_symlink or kind == "T":
            reason = "submodule" if change.is_submodule else "symlink" if change.is_symlink else "type_change"
            stats.skipped[reason] += 1
            return _Plan(change, "skip", index)
        if change.is_binary:
            stats.skipped["binary"] += 1
            return _Plan(change, "skip", index)
        if kind == "D":
            return _Plan(change, "file", index)
        has_hunks = change.patch is not None and "\n@@ " in "\n" + change.patch
        if kind == "R" and (change.similarity == 100 or (change.patch is not None and not change.patch_truncated and not has_hunks)):
            return _Plan(change, "file", index)  # moved without changes
        analyzer = INI if change.language == "ini" else analyzer_for(change.language)
        as_added = kind in ("A", "C") or parent is None
        complete = change.patch is not None and not change.patch_truncated
        plan = _Plan(change, "syntax" if analyzer is not None else "hunk", index, analyzer, as_added=as_added)
        if analyzer is None and complete and kind != "C":
            return plan  # hunks straight from the patch: no blob needed
        plan.new = BlobRequest(change.new_blob, commit.hash, change.path)
        if not as_added:
            plan.old = BlobRequest(change.old_blob, parent, change.old_path or change.path)  # type: ignore[arg-type]
            if complete and has_hunks and change.old_blob and change.new_blob and self.blobs.promise(plan.new):
                plan.new, plan.rebuild = None, True
        return plan

    # -- drafts per file ----------------------------------------------------------------------

    def _drafts(self, commit: CommitView | Commit, plan: _Plan) -> list[Draft]:
        stats = self.stats
        change = plan.change
        if plan.mode == "skip":
            return []
        if plan.mode == "file":
            stats.by_mode["file"] += 1
            return [self._file_draft(commit, change)]
        if (plan.new is not None and plan.new_blob is None) or (plan.old is not None and plan.old_blob is None):
            stats.skipped["missing_blob"] += 1  # not in the repository (a shallow or partial clone)
            return []
        too_large = any(b is not None and len(b.data) > self.config.max_file_bytes for b in (plan.old_blob, plan.new_blob))
        diff = self._diff(plan)
        if diff is None:
            return []
        if plan.mode == "syntax" and not too_large:
            drafts = self._syntax_drafts(commit, plan, diff)
            if drafts is not None:
                stats.by_mode["syntax"] += 1
                return self._merge_small(drafts)
        stats.by_mode["hunk"] += 1
        return self._merge_small(self._hunk_drafts(commit, plan, diff))

    def _diff(self, plan: _Plan) -> Diff | None:
        """The file's diff: git's patch when complete and consistent with the blobs, else
        recomputed from the blobs."""
        change = plan.change
        old, new = plan.old_blob, plan.new_blob
        # a copy's patch is against its source; here the file is new
        if change.patch is not None and not change.patch_truncated and not (plan.as_added and change.change_type == "C"):
            diff = plan.diff if plan.diff is not None else parse_patch(change.patch)
            if diff.consistent and self._fits_blobs(diff, old, new):
                return diff
        if new is None and old is None:
            return None
        self.stats.patches_recomputed += 1
        return diff_texts(self._text_lines(old) if old is not None and not plan.as_added else [],
                          self._text_lines(new) if new is not None else [])

    @staticmethod
    def _fits_blobs(diff: Diff, old: Blob | None, new: Blob | None) -> bool:
        if not diff.blocks:
            return True
        if old is not None and _lines(old).count < max(b[1] for b in diff.blocks):
            return False
        return new is None or _lines(new).count >= max(b[3] for b in diff.blocks)

    def _text_lines(self, blob: Blob) -> list[str]:
        if blob.text_lines is None:
            # lines end at "\n" only, as in git's patches and LineIndex (str.splitlines would
            # also break at "\r", form feeds and other separators, shifting every block after)
            text = self._decode(blob.data)
            blob.text_lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n") if text else []
        return blob.text_lines

    def _decode(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.stats.decode_errors += 1
            return data.decode("utf-8", "replace")

    def _code(self, blob: Blob, span: tuple[int, int], path: str) -> str:
        """Lines [span) of a blob as text: decoded, long lines cut, secrets redacted. Kept a
        while by their bytes: a unit's new code in one commit is its old code the next time
        it changes, whichever versions lie between (an eighth fewer texts to redact on ipython)."""
        lines = _lines(blob)
        key = (blob.data[lines.byte(span[0]):lines.byte(span[1])], path)
        text = self._texts.get(key)
        if text is not None:
            self._texts.move_to_end(key)
            return text
        text = self._clean(self._decode(key[0]), path)
        self._texts[key] = text
        if len(self._texts) > TEXT_CACHE:
            self._texts.popitem(last=False)
        return text

    def _clean(self, text: str, path: str) -> str:
        """Cut lines longer than the chunk budget, then redact secrets."""
        if len(text) > self.max_bytes:
            text = self._cut_long_lines(text)
        return self.redact(text, path) if self.redact is not None else text

    def _cut_long_lines(self, text: str) -> str:
        limit = self.max_bytes
        keep = max(limit - 48, 16)  # room for the marker: a cut line stays within the budget
        lines = text.split("\n")
        for index, line in enumerate(lines):
            if len(line) > limit:
                lines[index] = f"{line[:keep]} [... {len(line) - keep} characters cut]"
                self.stats.long_lines_cut += 1
        return "\n".join(lines)

    # -- syntax ---------------------------------------------------------------------------------

    def _outline(self, analyzer: Analyzer, blob: Blob, base: Blob | None, diff: Diff | None) -> Outline:
        cached = blob.outline
        if cached is not None and cached[0] == analyzer.name:
            return cached[1]
        lines = _lines(blob)
        outline: Outline | None = None
        if analyzer is INI:
            outline = ini_outline(blob.data, lines)
        else:
            extractor = self._extractor(analyzer)
            if base is None and diff is None:
                base, diff = self._merge_base(blob, analyzer)
            if base is not None and diff is not None and base.outline is not None and base.outline[0] == analyzer.name:
                outline = extractor.derive(base.outline[1], diff.blocks, blob.data, lines)
                if outline is not None:
                    self.stats.incremental_parses += 1
                elif self._extractor(analyzer).analyzer.incremental and not base.outline[1].has_error:
                    self.stats.incremental_misses += 1
            if outline is None:
                outline = extractor.parse(blob.data, lines)
                self.stats.full_parses += 1
                self._keep_tree(analyzer, blob, outline)
        blob.outline = (analyzer.name, outline)
        return outline

    def _after_error(self, analyzer: Analyzer, old: Blob, new: Blob, diff: Diff) -> None:
        """The outline of a version whose previous one does not parse (the file is chunked by
        hunk), from tree-sitter's incremental parse of the previous tree: the next change of the
        file reads it (a file that does not parse, as Python 2 files, would otherwise be
        parsed in full at every change)."""
        if new.outline is not None and new.outline[0] == analyzer.name:
            return
        tree = self._trees.get(old.key)
        if tree is None or tree[0] != analyzer.name:
            return
        self._trees.move_to_end(old.key)
        previous = edited_tree(tree[1], diff.blocks, _lines(old), _lines(new), new.data, old.data)
        outline = self._extractor(analyzer).parse(new.data, _lines(new), previous)
        self.stats.tree_reparses += 1
        self._keep_tree(analyzer, new, outline)
        new.outline = (analyzer.name, outline)

    def _keep_tree(self, analyzer: Analyzer, blob: Blob, outline: Outline) -> None:
        """Keep the tree of a version that does not parse (a few, by size) for _after_error."""
        tree, outline.tree = outline.tree, None
        if tree is None:
            return
        trees = self._trees
        previous = trees.pop(blob.key, None)
        if previous is not None:
            self._tree_bytes -= previous[2]
        trees[blob.key] = (analyzer.name, tree, len(blob.data))
        self._tree_bytes += len(blob.data)
        while len(trees) > 1 and self._tree_bytes > ERROR_TREE_BYTES:
            self._tree_bytes -= trees.popitem(last=False)[1][2]

    def _merge_base(self, blob: Blob, analyzer: Analyzer) -> tuple[Blob | None, Diff | None]:
        """The first parent's version (cached, outlined) and the diff of the skipped merge
        that wrote this version, when there was one (see note_merge)."""
        recipe = self._merged.get(blob.key)
        if recipe is None:
            return None, None
        base = self._outlined_version(recipe[0], analyzer, MERGE_CHAIN)
        if base is None:
            return None, None
        diff = parse_patch(recipe[1])
        if not diff.consistent or not self._fits_blobs(diff, base, blob):
            return None, None
        return base, diff

    def _outlined_version(self, key: str, analyzer: Analyzer, depth: int) -> Blob | None:
        """Version `key` with its outline: from the cache, or, when a skipped merge wrote it
        too, rebuilt from that merge's first parent's version and patch (down a chain of up to
        `depth` merges: a pull-request workflow's main branch is made of merges in a row, and
        a file changed by several of them would otherwise be parsed in full); None when
        neither holds."""
        version = self.blobs.cached(key)
        if version is not None:
            return version if version.outline is not None and version.outline[0] == analyzer.name else None
        recipe = self._merged.get(key)
        if recipe is None or depth == 0:
            return None
        parent = self._outlined_version(recipe[0], analyzer, depth - 1)
        if parent is None:
            return None
        diff = parse_patch(recipe[1])
        version = self._spliced(parent, diff, key)
        if version is not None:
            self._outline(analyzer, version, parent, diff)
        return version

    def _extractor(self, analyzer: Analyzer) -> Extractor:
        extractor = self._extractors.get(analyzer.name)
        if extractor is None:
            extractor = self._extractors[analyzer.name] = Extractor(analyzer, self.max_bytes)
        return extractor

    def _syntax_drafts(self, commit: CommitView | Commit, plan: _Plan, diff: Diff) -> list[Draft] | None:
        """Drafts per touched unit, or None when a side does not parse (hunks instead)."""
        analyzer = plan.analyzer
        assert analyzer is not None
        change = plan.change
        old_blob = None if plan.as_added else plan.old_blob
        new_blob = plan.new_blob
        old = new = None
        if old_blob is not None:
            outline = self._outline(analyzer, old_blob, None, None)
            if outline.has_error:
                self.stats.fallback(change.language, f"{change.old_path or change.path} at {commit.parents[0][:12]}, line {outline.error_line}")
                if new_blob is not None:
                    self._after_error(analyzer, old_blob, new_blob, diff)
                return None
            old = Side(old_blob.data, _lines(old_blob), outline)
        if new_blob is not None:
            outline = self._outline(analyzer, new_blob, old_blob, diff)
            if outline.has_error:
                self.stats.fallback(change.language, f"{change.path} at {commit.hash[:12]}, line {outline.error_line}")
                return None
            new = Side(new_blob.data, _lines(new_blob), outline)
        selector = self._selectors.get(analyzer.name)
        if selector is None:
            selector = self._selectors[analyzer.name] = Selector(analyzer, self.max_bytes)
        before = selector.line_splits
        targets = selector.targets(old, new, diff)
        self.stats.line_splits += selector.line_splits - before
        drafts = []
        for target in targets:
            draft = self._target_draft(commit, plan, diff, target)
            if draft is not None:
                drafts.append(draft)
        return drafts

    def _target_draft(self, commit: CommitView | Commit, plan: _Plan, diff: Diff, target: Target) -> Draft | None:
        change = plan.change
        clip = diff.clip(target.old, target.new)
        patch, removed, added = clip.patch, clip.removed, clip.added
        additions, deletions = len(added), len(removed)
        if additions == 0 and deletions == 0 and not target.members:
            return None  # only context of this unit was in the diff (the change is next to it)
        old_code = self._code(plan.old_blob, target.old, change.old_path or change.path) if target.old is not None and plan.old_blob is not None and not plan.as_added else None
        new_code = self._code(plan.new_blob, target.new, change.path) if target.new is not None and plan.new_blob is not None else None
        if len(patch) > self.max_bytes:
            patch = self._cut_long_lines(patch)
        if self.redact is not None and (diff.recomputed or not self.patches_redacted):
            patch = self.redact(patch, change.path)
        section = target.name
        kind_of = change_type(
            kind=target.kind, status=target.status, test=target.test, path=change.path, language=change.language,
            section=section if target.kind in ("section", "key") else None, members=target.members,
            removed=removed, added=added, subject=commit.message_subject, conventional_type=commit.conventional_type,
            family=plan.analyzer.family if plan.analyzer is not None else None,
            unchanged=target.status == "modified" and old_code == new_code,
        )
        name = target.name
        if target.kind == "section" and len(target.members) == 1 and not target.part and target.status == "modified":
            name = f"{name}.{target.members[0]}" if name else target.members[0]
        span = target.new if target.new is not None else target.old
        line_range = [span[0] + 1, max(span[1], span[0] + 1)] if span is not None else None
        if target.part:
            self.stats.split_units += 1
        size = max(estimate_tokens(old_code), estimate_tokens(new_code))
        return Draft(target.kind, name, old_code, new_code, patch, line_range, additions, deletions, kind_of, size)

    # -- hunks and files ------------------------------------------------------------------------

    def _hunk_drafts(self, commit: CommitView | Commit, plan: _Plan, diff: Diff) -> list[Draft]:
        change = plan.change
        drafts = []
        for hunk in diff.hunks:
            if any(len(line) > self.max_bytes for line in hunk.lines):
                hunk = Hunk(hunk.old_start, hunk.new_start, self._cut_long_lines("\n".join(hunk.lines)).split("\n"), hunk.heading)
            for piece in _split_hunk(hunk, self.max_bytes):
                olds: list[str] = []  # the piece's old and new lines, its -/+ lines (without marks)
                news: list[str] = []
                removed: list[str] = []
                added: list[str] = []
                for line in piece.lines:
                    mark = line[:1]
                    if mark == " ":
                        olds.append(line[1:])
                        news.append(line[1:])
                    elif mark == "-":
                        olds.append(line[1:])
                        removed.append(line[1:])
                    elif mark == "+":
                        news.append(line[1:])
                        added.append(line[1:])
                if not removed and not added:
                    continue
                old_count, new_count = len(olds), len(news)
                old_text = "\n".join(olds) + "\n" if olds else ""
                new_text = "\n".join(news) + "\n" if news else ""
                text = "\n".join(piece.lines) + "\n"
                patch = f"@@ -{_hunk_range(piece.old_start, old_count)} +{_hunk_range(piece.new_start, new_count)} @@{hunk.heading}\n{text}"
                if self.redact is not None and (diff.recomputed or not self.patches_redacted):
                    patch = self.redact(patch, change.path)
                    old_text = self.redact(old_text, change.path)
                    new_text = self.redact(new_text, change.path)
                status = "added" if plan.as_added else "modified"
                kind_of = change_type(
                    kind="hunk", status=status, test=False, path=change.path, language=change.language, section=None,
                    members=[], removed=removed, added=added, subject=commit.message_subject,
                    conventional_type=commit.conventional_type, family=plan.analyzer.family if plan.analyzer else None,
                )
                if new_count:
                    line_range = [piece.new_start + 1, piece.new_start + new_count]
                else:
                    line_range = [piece.old_start + 1, piece.old_start + old_count]
                old_code = None if plan.as_added or not old_count else old_text
                new_code = new_text if new_count else None
                if len(piece.lines) != len(hunk.lines):
                    self.stats.split_units += 1
                size = max(estimate_tokens(old_code), estimate_tokens(new_code))
                drafts.append(Draft("hunk", None, old_code, new_code, patch, line_range, len(added), len(removed), kind_of, size))
        return drafts

    def _file_draft(self, commit: CommitView | Commit, change: FileChange) -> Draft:
        """A whole-file deletion, or a rename/copy without content changes."""
        header = change.patch or ""
        cut = header.find("\n@@ ")
        header = header[: cut + 1] if cut >= 0 else header
        if change.change_type == "D":
            self.stats.whole_file_deletions += 1
            status, additions, deletions = "deleted", 0, change.deletions
            if not header:
                header = f"deleted file {change.path}\n"
        else:
            self.stats.pure_renames += 1
            status, additions, deletions = "renamed", 0, 0
            if not header:
                header = f"rename from {change.old_path}\nrename to {change.path}\n"
        kind_of = change_type(
            kind="file", status=status, test=False, path=change.path, language=change.language, section=None,
            members=[], removed=[], added=[], subject=commit.message_subject, conventional_type=commit.conventional_type,
            family=_family(change.language),
        )
        return Draft("file", None, None, None, header, None, additions, deletions, kind_of, 0)

    # -- merging small neighbours ---------------------------------------------------------------

    def _merge_small(self, drafts: list[Draft]) -> list[Draft]:
        """Fold neighbouring chunks below min_chunk_tokens (same change_type) into one, up
        to max_chunk_tokens."""
        minimum, maximum = self.config.min_chunk_tokens, self.config.max_chunk_tokens
        if minimum <= 0 or len(drafts) < 2:
            return drafts
        out: list[Draft] = [drafts[0]]
        for draft in drafts[1:]:
            last = out[-1]
            if (last.size < minimum and draft.size < minimum and last.change_type == draft.change_type
                    and last.size + draft.size <= maximum):
                out[-1] = _join(last, draft)
                self.stats.merged_chunks += 1
            else:
                out.append(draft)
        return out


def _join(a: Draft, b: Draft) -> Draft:
    names = [n for n in (a.name, b.name) if n]
    return Draft(
        kind=a.kind if a.kind == b.kind else "group",
        name=", ".join(dict.fromkeys(", ".join(names).split(", "))) if names else None,
        old_code=_concat(a.old_code, b.old_code),
        new_code=_concat(a.new_code, b.new_code),
        patch=a.patch + b.patch,
        line_range=[min(a.line_range[0], b.line_range[0]), max(a.line_range[1], b.line_range[1])]
        if a.line_range and b.line_range else (a.line_range or b.line_range),
        additions=a.additions + b.additions,
        deletions=a.deletions + b.deletions,
        change_type=a.change_type,
        size=a.size + b.size,
    )


def _concat(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    return a + ("" if a.endswith("\n") else "\n") + b


def _lines(blob: Blob) -> LineIndex:
    if blob.lines is None:
        blob.lines = LineIndex(blob.data)
    return blob.lines


def _split_hunk(hunk: Hunk, max_bytes: int) -> list[Hunk]:
    """A hunk whose old or new side is larger than the budget, cut into consecutive pieces of
    whole lines whose sides each fit."""
    old_size = sum(len(line) for line in hunk.lines if line[:1] != "+")
    new_size = sum(len(line) for line in hunk.lines if line[:1] != "-")
    if old_size <= max_bytes and new_size <= max_bytes:
        return [hunk]
    pieces: list[Hunk] = []
    old, new = hunk.old_start, hunk.new_start
    current: list[str] = []
    start_old, start_new = old, new
    old_size = new_size = 0
    for line in hunk.lines:
        mark = line[:1]
        grows_old = len(line) if mark != "+" else 0
        grows_new = len(line) if mark != "-" else 0
        if current and mark != "\\" and (old_size + grows_old > max_bytes or new_size + grows_new > max_bytes):
            pieces.append(Hunk(start_old, start_new, current, hunk.heading))
            current, old_size, new_size, start_old, start_new = [], 0, 0, old, new
        current.append(line)
        old_size += grows_old
        new_size += grows_new
        if mark == "-":
            old += 1
        elif mark == "+":
            new += 1
        elif mark != "\\":
            old += 1
            new += 1
    if current:
        pieces.append(Hunk(start_old, start_new, current, hunk.heading))
    return pieces


def _hunk_range(start: int, count: int) -> str:
    first = start + (1 if count else 0)
    return str(first) if count == 1 else f"{first},{count}"


def _family(language: str | None) -> str | None:
    analyzer = analyzer_for(language)
    return analyzer.family if analyzer is not None else None
