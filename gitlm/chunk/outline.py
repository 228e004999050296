"""A blob's outline: its syntactic units as a tree of line ranges, read with tree-sitter.

An Entry is one top-level node of a level (a function, a class, an import, a comment) with
its lines `[start, end)` relative to its parent's first line; containers (classes, impl
blocks, modules, sections, functions too large for one chunk) hold their members. Entries
are immutable and shared between the outlines of successive versions of a file.

Speed: a history parses each version of every changed file, and tree-sitter's full parse
(~15 MB/s for Python) would dominate the whole stage. `derive` builds the new version's
outline from the old one instead: entries the diff does not touch are kept (shifted by the
lines inserted above them), and only the touched entries' text is re-parsed, with
tree-sitter's `included_ranges` holding just the enclosing containers' header and closing
lines around it, so a method edit in a 4,000-line class parses that method plus `class X:`;
a changed header (`class X(Base):`, a JavaScript module's dependency list) is parsed with
the container's first member only, its other members kept or derived as before.
The re-parsed region must parse without errors and stay inside its container; otherwise the
next level up is tried, and at the top the whole file is parsed. A container whose members
are separated by commas (a JavaScript object's functions) is re-parsed whole: a property
without its comma parses on its own but breaks the object.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tree_sitter

from gitlm.chunk.languages import UNIT_KINDS, Analyzer, Found, Node

Block = tuple[int, int, int, int]
# A block with the old lines it reaches (see derive): old start, old end, new start, new end,
# then [lo, hi) across blank lines ("wide"), then [lo, hi) touching directly ("narrow")
Reach = tuple[int, int, int, int, int, int, int, int]

_SKIP_FIELDS = frozenset({"name", "condition", "key"})


class LineIndex:
    """Byte offsets of a blob's line starts: line i is data[offsets[i]:offsets[i + 1]]."""

    __slots__ = ("offsets", "count")

    def __init__(self, data: bytes):
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        count = len(newlines) + (1 if data and not data.endswith(b"\n") else 0)
        offsets = np.empty(count + 1, dtype=np.int64)
        offsets[0] = 0
        offsets[1:len(newlines) + 1] = newlines + 1
        offsets[count] = len(data)
        self.offsets = array("q", offsets.tobytes())  # 8 bytes a line (a list would take 36)
        self.count = count

    def byte(self, line: int) -> int:
        """Where line `line` starts (the end of the data for line == count)."""
        return self.offsets[line]

    def size(self, start: int, end: int) -> int:
        offsets = self.offsets
        return offsets[end] - offsets[start]


class Entry:
    """One node of an outline level; lines are relative to the parent's start line."""

    __slots__ = ("kind", "name", "start", "end", "head", "tail", "members", "test", "scope", "nested", "separated")

    def __init__(self, kind: str, name: str | None, start: int, end: int, *, head: int = 0, tail: int = 0,
                 members: tuple[Entry, ...] | None = None, test: bool = False, scope: str | None = None,
                 nested: bool = False, separated: bool = False):
        self.kind = kind
        self.name = name
        self.start = start
        self.end = end
        self.head = head  # header lines before the first member (containers)
        self.tail = tail  # closing lines after the last member (containers)
        self.members = members
        self.test = test
        self.scope = scope if scope is not None else name
        self.nested = nested  # members are always read (a class), not only when too large (a function)
        self.separated = separated  # members do not parse on their own (see languages.Found.separated)

    @property
    def is_unit(self) -> bool:
        return self.kind in UNIT_KINDS

    def moved(self, delta: int) -> Entry:
        if delta == 0:
            return self
        entry = self._copy()
        entry.start += delta
        entry.end += delta
        return entry

    def with_members(self, members: tuple[Entry, ...], delta: int) -> Entry:
        entry = self._copy()
        entry.end += delta
        entry.members = members
        return entry

    def _copy(self) -> Entry:
        # a derived outline copies most of a file's entries (shifted). Compiled (gitlm/native.py)
        # the constructor is fastest and object.__new__ is refused; in plain Python a bare
        # object filled slot by slot costs a third of a call to __init__ with keywords
        if _COMPILED:
            return Entry(self.kind, self.name, self.start, self.end, head=self.head, tail=self.tail, members=self.members,
                         test=self.test, scope=self.scope, nested=self.nested, separated=self.separated)
        entry = _new_entry(Entry)
        entry.kind, entry.name, entry.start, entry.end = self.kind, self.name, self.start, self.end
        entry.head, entry.tail, entry.members = self.head, self.tail, self.members
        entry.test, entry.scope, entry.nested, entry.separated = self.test, self.scope, self.nested, self.separated
        return entry

    def __repr__(self) -> str:  # for test failures
        inner = f" {list(self.members)!r}" if self.members else ""
        return f"<{self.kind} {self.name!r} {self.start}-{self.end}{inner}>"


_new_entry = object.__new__
_COMPILED = not __file__.endswith(".py")  # this module runs compiled by mypyc


class Outline:
    """A blob's entries, or has_error when tree-sitter could not parse it cleanly (then
    `tree`, the erroneous tree, lets the next version be parsed incrementally)."""

    __slots__ = ("entries", "has_error", "error_line", "tree")

    def __init__(self, entries: tuple[Entry, ...], has_error: bool = False, error_line: int | None = None,
                 tree: tree_sitter.Tree | None = None):
        self.entries = entries
        self.has_error = has_error
        self.error_line = error_line
        self.tree = tree


def edited_tree(tree: tree_sitter.Tree, blocks: Sequence[Block], old: LineIndex, new: LineIndex, new_data: bytes,
                old_data: bytes) -> tree_sitter.Tree:
    """A copy of an old version's tree with the diff's changed blocks applied as edits, for an
    incremental parse of the new version (blocks last to first: each edit is then given in the
    coordinates of the text before it)."""
    tree = tree.copy()
    for os_, oe, ns, ne in reversed(blocks):
        start = old.byte(os_)
        tree.edit(start_byte=start, old_end_byte=old.byte(oe), new_end_byte=start + new.size(ns, ne),
                  start_point=_point(old, old_data, os_), old_end_point=_point(old, old_data, oe),
                  new_end_point=_shifted(_point(new, new_data, ne), ns, os_))
    return tree


def _point(lines: LineIndex, data: bytes, line: int) -> tuple[int, int]:
    """Where line boundary `line` is as (row, column): past a last line without a line end, at
    that line's end."""
    if line == lines.count and lines.count and not data.endswith(b"\n"):
        return line - 1, lines.size(line - 1, line)
    return line, 0


def _shifted(point: tuple[int, int], old_row: int, new_row: int) -> tuple[int, int]:
    return point[0] - old_row + new_row, point[1]


def _line_span(node: Node) -> tuple[int, int]:
    start = node.start_point.row
    end_point = node.end_point
    end = end_point.row + (1 if end_point.column > 0 else 0)
    return start, max(end, start + 1)


class Extractor:
    """Turns tree-sitter nodes into outline entries for one analyzer."""

    def __init__(self, analyzer: Analyzer, split_bytes: int):
        self.analyzer = analyzer
        self.split_bytes = split_bytes  # functions larger than this keep their statements as members
        self.parser: Any = tree_sitter.Parser(analyzer.language)  # Any: a test records its calls through a stand-in
        self._lines = LineIndex(b"")
        self._data = b""
        self._new_text: list[tuple[int, int]] = []  # the changed blocks' new lines (derive)
        self._hopeless = False  # derive: a region failed on an error in the new text itself

    # -- full parse -----------------------------------------------------------------------

    def parse(self, data: bytes, lines: LineIndex | None = None, previous: tree_sitter.Tree | None = None) -> Outline:
        """The outline of a whole blob; `previous`: the tree of an earlier version, edited to
        this one (see edited_tree), which tree-sitter re-parses incrementally."""
        self._lines = lines if lines is not None else LineIndex(data)
        self._data = data
        self.parser.included_ranges = None  # type: ignore[assignment]
        tree = self.parser.parse(data) if previous is None else self.parser.parse(data, previous)
        root = tree.root_node
        if root.has_error:
            return Outline((), has_error=True, error_line=_first_error_line(root), tree=tree)
        return Outline(tuple(self.entries(self.level_nodes(root.named_children), 0, None, False)))

    def level_nodes(self, nodes: Sequence[Node]) -> Iterator[Node]:
        """The nodes that are entries of a level: transparent wrappers are opened."""
        transparent = self.analyzer.transparent
        skip = self.analyzer.skip
        for node in nodes:
            if node.type in transparent:
                yield from self.level_nodes(node.named_children)
            elif node.type not in skip:
                yield node

    def _span(self, node: Node) -> tuple[int, int, int]:
        """A node's lines: start, end without the blank lines some grammars end a node with
        (a TOML table, a Markdown section), and end with them (as _line_span)."""
        start = node.start_point.row
        end_point = node.end_point
        column = end_point.column
        whole = end = max(end_point.row + (1 if column > 0 else 0), start + 1)
        if end - start > 1 and column == 0:
            data, offsets = self._data, self._lines.offsets
            while end - start > 1 and end <= self._lines.count and not data[offsets[end - 1]:offsets[end]].strip():
                end -= 1
        return start, end, whole

    def member_nodes(self, body: Node, owner: Node) -> Iterator[Node]:
        """The nodes of a container's members. Comments between the header and the body's
        first statement are children of the container node in some grammars (Python), not
        of its body: they are members too, so a full parse and a region parse agree."""
        nodes = body.named_children
        skipped = {n.id for name in _SKIP_FIELDS for n in body.children_by_field_name(name)}
        if skipped:
            nodes = [c for c in nodes if c.id not in skipped]
        holder = body.parent
        if holder is not None and body.id != owner.id:
            header_row = holder.start_point.row
            extras = [c for c in holder.named_children if c.is_extra and c.start_point.row > header_row]
            if extras:
                nodes = sorted(nodes + extras, key=lambda n: n.start_byte)
        return self.level_nodes(nodes)

    def entries(self, nodes: Iterator[Node], base: int, parent: Entry | None, in_test: bool) -> list[Entry]:
        """Entries (relative to line `base`) for one level's nodes; doc comments and
        attributes directly above a unit (no blank line between) become part of it."""
        rules = self.analyzer.rules
        attach = self.analyzer.attach
        parent_kind = parent.kind if parent is not None else None
        out: list[Entry] = []
        pending: list[tuple[Node, int, int, int]] = []  # comments and attributes with their _span

        def flush() -> None:  # comments and attributes that attach to no unit
            for _, start, end, _ in pending:
                out.append(Entry("comment", None, start - base, end - base, test=in_test))
            pending.clear()

        for node in nodes:
            start, end, whole = self._span(node)
            node_type = node.type
            if node_type in attach:
                if pending and pending[-1][3] < start:
                    flush()
                pending.append((node, start, end, whole))
                continue
            rule = rules.get(node_type)
            found = rule(node, [p[0] for p in pending]) if rule is not None else None
            if found is None or (found.kind not in UNIT_KINDS and found.kind != "block"):
                flush()
                out.append(Entry("statement", None, start - base, end - base, test=in_test))
                continue
            if pending and pending[-1][3] >= start:
                start = min(start, pending[0][1])
                pending.clear()
            else:
                flush()
            out.append(self._unit(node, found, start, end, base, parent_kind, in_test))
        flush()
        return out

    def _unit(self, node: Node, found: Found, start: int, end: int, base: int, parent_kind: str | None, in_test: bool) -> Entry:
        kind = found.kind
        if kind == "function" and parent_kind in ("type", "interface", "impl"):
            kind = "method"
        test = found.test or in_test
        entry = Entry(kind, found.name, start - base, end - base, test=test, scope=found.scope, nested=found.nested,
                      separated=found.separated)
        body = found.body
        if body is not None and (found.nested or self._lines.size(start, end) > self.split_bytes):
            members = self.entries(self.member_nodes(body, node), start, entry, test)
            if members:
                entry.members = tuple(members)
                entry.head = members[0].start
                entry.tail = (end - start) - members[-1].end
        return entry

    # -- incremental ----------------------------------------------------------------------

    def derive(self, old: Outline, blocks: Sequence[Block], data: bytes, lines: LineIndex) -> Outline | None:
        """The new version's outline from the old one and the changed blocks (old start,
        old end, new start, new end; 0-based lines), re-parsing only touched entries; None
        when the touched entries do not re-parse cleanly (the caller parses the whole file)."""
        if old.has_error or not self.analyzer.incremental:
            return None
        if not blocks:
            return old
        self._lines = lines
        self._data = data
        self._new_text = [(ns, ne) for _, _, ns, ne in blocks if ns < ne]
        self._hopeless = False
        # each block with the old lines it reaches, two ways: across the blank lines around
        # it (text inserted after a blank line may continue the entry above it), and, where the
        # grammar allows (Analyzer.blank_separates), only to the entries it overlaps or
        # borders directly, tried first (new text that starts or ends with a blank line
        # borders nothing on that side)
        reach = [(os_, oe, ns, ne, os_ - _blank_run(data, lines, ns, -1), oe + _blank_run(data, lines, ne, 1),
                  os_ + (ns < ne and _indent(data, lines, ns) is None), oe - (ns < ne and _indent(data, lines, ne - 1) is None))
                 for os_, oe, ns, ne in blocks]
        result = self._level(old.entries, 0, 0, reach, [], data, lines)
        return Outline(tuple(result)) if result is not None and not self._hopeless else None

    def _clusters(self, entries: Sequence[Entry], base_old: int, blocks: Sequence[Reach], narrow: bool) -> list[_Cluster]:
        """Group the blocks by the runs of entries they touch: a block touches the entries it
        overlaps or borders, across blank lines (one in a gap touches both neighbours); when
        `narrow`, only those it overlaps or borders directly (one in a gap may touch none)."""
        starts = _starts(entries)
        count = len(entries)
        spans: list[tuple[int, int, Reach]] = []
        for block in blocks:
            rs = (block[6] if narrow else block[4]) - base_old
            re_ = (block[7] if narrow else block[5]) - base_old
            k = bisect_right(starts, re_) - 1
            last, first = k, None
            while k >= 0 and entries[k].end >= rs:
                first = k
                k -= 1
            if first is None:
                after = bisect_right(starts, re_)
                if narrow:
                    first, last = after, after - 1  # an empty run: only the new text is parsed
                else:
                    first, last = max(after - 1, 0), min(after, count - 1)
            spans.append((first, last, block))
        spans.sort(key=lambda span: (span[0], span[1]))
        clusters: list[_Cluster] = []
        for first, last, block in spans:
            cluster = _Cluster(first, last, [block])
            cluster.lo = min(block[0], base_old + entries[first].start) if last >= first else block[0]
            cluster.hi = max(block[1], base_old + entries[last].end) if last >= first else block[1]
            while cluster.first > 0 and (base_old + entries[cluster.first - 1].end > cluster.lo or (
                    entries[cluster.first - 1].kind == "comment" and base_old + entries[cluster.first - 1].end == cluster.lo)):
                # overlapping entries, and comments right above (they may attach to what follows)
                cluster.first -= 1
                cluster.lo = min(cluster.lo, base_old + entries[cluster.first].start)
            while cluster.last + 1 < count and base_old + entries[cluster.last + 1].start < cluster.hi:
                cluster.last += 1
                cluster.hi = max(cluster.hi, base_old + entries[cluster.last].end)
            if clusters and (cluster.first <= clusters[-1].last or cluster.lo < clusters[-1].hi):
                merged = clusters[-1]
                merged.first, merged.last = min(merged.first, cluster.first), max(merged.last, cluster.last)
                merged.lo, merged.hi = min(merged.lo, cluster.lo), max(merged.hi, cluster.hi)
                merged.blocks.append(block)
            else:
                clusters.append(cluster)
        return clusters

    def _level(self, entries: Sequence[Entry], base_old: int, base_new: int, blocks: Sequence[Reach],
               ancestors: list[tuple[Entry, int, int]], data: bytes, lines: LineIndex) -> list[Entry] | None:
        """This level's new entries (relative to base_new): with the narrow runs of touched
        entries first where the grammar allows, then with the wide ones (see _clusters)."""
        if self.analyzer.blank_separates:
            out = self._level_once(entries, base_old, base_new, blocks, ancestors, data, lines, True)
            if out is not None or self._hopeless:
                return out
        return self._level_once(entries, base_old, base_new, blocks, ancestors, data, lines, False)

    def _level_once(self, entries: Sequence[Entry], base_old: int, base_new: int, blocks: Sequence[Reach],
                    ancestors: list[tuple[Entry, int, int]], data: bytes, lines: LineIndex, narrow: bool) -> list[Entry] | None:
        """Each run of touched entries is either one container whose body holds all its
        changes (recurse into it) or is re-parsed; all re-parsed runs of a level go through
        one tree-sitter call."""
        clusters = self._clusters(entries, base_old, blocks, narrow)
        if narrow and self.analyzer.indented is not None:
            self._attach_deeper(clusters, entries, base_old, base_new, data, lines)
        shift = 0
        reparse: list[_Cluster] = []
        for cluster in clusters:
            cluster.delta = _delta(cluster.blocks)
            cluster.new_lo = cluster.lo - base_old + base_new + shift
            cluster.new_hi = cluster.hi - base_old + base_new + shift + cluster.delta
            cluster.shift = shift
            shift += cluster.delta
            if cluster.first == cluster.last and cluster.first < len(entries):
                entry = entries[cluster.first]
                replacement = self._recurse(entry, base_old, base_new + shift - cluster.delta, cluster, ancestors, data, lines)
                if replacement is not None:
                    cluster.fresh = [replacement]
                    continue
            reparse.append(cluster)
        if self._hopeless:
            return None
        if reparse and not self._reparse(reparse, entries, clusters, base_new, ancestors, data, lines, narrow):
            return None
        out: list[Entry] = []
        index = 0
        for cluster in clusters:
            out.extend(e.moved(cluster.shift) for e in entries[index:cluster.first])
            out.extend(cluster.fresh)
            index = cluster.last + 1
        out.extend(e.moved(shift) for e in entries[index:])
        return out

    def _attach_deeper(self, clusters: list[_Cluster], entries: Sequence[Entry], base_old: int, base_new: int,
                       data: bytes, lines: LineIndex) -> None:
        """Indented grammars: new text in a gap that starts deeper than the entry above it
        continues that entry (methods appended to a class after a blank line): its run is
        that entry alone, so the change re-derives the entry's members instead of failing
        here and re-parsing the entry and the one below it."""
        shift = 0
        for index, cluster in enumerate(clusters):
            above = cluster.first - 1
            if (cluster.first > cluster.last and above >= 0 and len(cluster.blocks) == 1
                    and (index == 0 or clusters[index - 1].last < above)):
                _, _, ns, ne, _, _, _, _ = cluster.blocks[0]
                entry = entries[above]
                new_indent = _first_indent(data, lines, ns, ne)
                above_indent = _indent(data, lines, base_new + entry.start + shift)
                if new_indent is not None and above_indent is not None and new_indent > above_indent:
                    cluster.first = cluster.last = above
                    cluster.lo = min(cluster.lo, base_old + entry.start)
                    cluster.hi = max(cluster.hi, base_old + entry.end)
            shift += _delta(cluster.blocks)

    def _recurse(self, entry: Entry, base_old: int, new_base: int, cluster: _Cluster,
                 ancestors: list[tuple[Entry, int, int]], data: bytes, lines: LineIndex) -> Entry | None:
        """The container `entry` with its members re-derived, when every change of the
        cluster lies inside its body, or inside its header or closing lines (see _rehead);
        else None."""
        if not entry.members or entry.head < 1 or entry.separated:
            return None
        start_old, end_old = base_old + entry.start, base_old + entry.end
        body_lo, body_hi = start_old + entry.head, end_old - entry.tail
        body: list[Reach] = []
        edges: list[Reach] = []  # blocks in the header or closing lines
        for b in cluster.blocks:
            # without closing lines (Python) the body may also grow past the old end: the
            # members' re-parse checks that the new text stays inside the container
            if body_lo <= b[0] and (b[1] <= body_hi or entry.tail == 0):
                body.append(b)
            elif (start_old <= b[0] and b[1] <= body_lo and b[0] < b[1]) or (body_hi <= b[0] and b[1] <= end_old and b[0] < end_old):
                edges.append(b)
            else:
                return None
        new_start = new_base + entry.start
        new_end = new_start + (entry.end - entry.start) + cluster.delta
        head_delta = _delta([b for b in edges if b[1] <= body_lo])
        tail_delta = _delta(edges) - head_delta
        container = entry
        if edges:
            reheaded = self._rehead(entry, start_old, body, head_delta, tail_delta, new_start, new_end, ancestors, data, lines)
            if reheaded is None:
                return None
            container = reheaded
        members: Sequence[Entry] | None = entry.members
        if body:
            members = self._level(entry.members, start_old, new_start + head_delta, body,
                                  ancestors + [(container, new_start, new_end)], data, lines)
        if not members:
            return None
        if head_delta:
            members = [member.moved(head_delta) for member in members]
        updated = entry.with_members(tuple(members), cluster.delta).moved(cluster.shift)
        updated.name, updated.scope = container.name, container.scope
        if entry.tail == 0:  # no closing lines (Python): the container ends with its last member
            updated.end = updated.start + members[-1].end
        updated.head = members[0].start
        updated.tail = (updated.end - updated.start) - members[-1].end
        if not updated.nested and lines.size(new_start, new_end) <= self.split_bytes:
            updated.members, updated.head, updated.tail = None, 0, 0  # small again: a leaf, as a full parse has it
        return updated

    def _rehead(self, entry: Entry, start_old: int, body: list[Reach], head_delta: int, tail_delta: int, new_start: int,
                new_end: int, ancestors: list[tuple[Entry, int, int]], data: bytes, lines: LineIndex) -> Entry | None:
        """A container whose header or closing lines changed (a class's bases, a JavaScript
        module's list of dependencies): its new header and closing lines are parsed around
        its first member alone, which must be unchanged, instead of the whole container. The
        parse must give one unit of the same kind whose only member is that first member,
        where it belongs; the container as its members' re-parse sees it (new name, header
        and closing lines), or None."""
        members = entry.members
        if not members:
            return None
        first = members[0]
        head, tail = entry.head + head_delta, entry.tail + tail_delta
        if head < 1 or tail < 0 or any(b[0] < start_old + first.end for b in body):
            return None
        first_lo = new_start + head
        first_hi = first_lo + (first.end - first.start)
        ranges = _region(ancestors, [(new_start, first_hi), (new_end - tail, new_end)], lines)
        if ranges is None:
            return None
        root = self._parse_ranges(data, lines, ranges)
        if root.has_error:
            return None
        descended = self._descend(root, ancestors, new_end if tail else first_hi)
        if descended is None:
            return None
        nodes, parent, in_test = descended
        units = [n for n in nodes if n.type not in self.analyzer.attach]
        container = self._container(units[0]) if len(units) == 1 else None
        if container is None:
            return None
        fresh = self.entries(iter(nodes), new_start, parent, in_test)
        if (len(fresh) != 1 or fresh[0].start != 0 or fresh[0].end != (new_end if tail else first_hi) - new_start
                or fresh[0].kind != entry.kind or fresh[0].test != entry.test or fresh[0].nested != entry.nested):
            return None
        # the header ends where the first member starts, and the changed lines hold no member
        # (statements inserted among the blank lines before a closing brace are members)
        inside = self.entries(self.member_nodes(container[1], units[0]), new_start, entry, entry.test)
        if len(inside) != 1 or (inside[0].start, inside[0].end) != (head, head + first.end - first.start):
            return None
        reheaded = entry._copy()
        reheaded.name, reheaded.scope = fresh[0].name, fresh[0].scope
        reheaded.head, reheaded.tail = head, tail
        return reheaded

    def _parse_ranges(self, data: bytes, lines: LineIndex, ranges: list[tuple[int, int]]) -> Node:
        self.parser.included_ranges = [tree_sitter.Range((a, 0), (b, 0), lines.byte(a), lines.byte(b)) for a, b in ranges]
        try:
            return self.parser.parse(data).root_node
        finally:
            self.parser.included_ranges = None  # type: ignore[assignment]

    def _container(self, node: Node) -> tuple[Found, Node] | None:
        """What the analyzer reads of a node that holds members (a class, a function), with
        the node of its body; None for any other node."""
        rule = self.analyzer.rules.get(node.type)
        found = rule(node, ()) if rule is not None else None
        return (found, found.body) if found is not None and found.body is not None else None

    def _descend(self, root: Node, ancestors: list[tuple[Entry, int, int]], last_text: int) -> tuple[list[Node], Entry | None, bool] | None:
        """The nodes of the level under the ancestors in a region parse, with their parent
        entry and test flag; None when the region is not inside the same containers (one
        unit per level, the same names, reaching past the new text)."""
        nodes: list[Node] = list(self.level_nodes(root.named_children))
        parent: Entry | None = None
        in_test = False
        for entry, _, _ in ancestors:
            units = [n for n in nodes if n.type not in self.analyzer.attach]
            container = self._container(units[0]) if len(units) == 1 else None
            if container is None or container[0].name != entry.name:
                return None
            if _line_span(units[0])[1] < last_text:
                return None  # the new text fell out of its container (a dedent)
            nodes = list(self.member_nodes(container[1], units[0]))
            parent, in_test = entry, entry.test
        return nodes, parent, in_test

    def _reparse(self, reparse: list[_Cluster], entries: Sequence[Entry], clusters: list[_Cluster], base_new: int,
                 ancestors: list[tuple[Entry, int, int]], data: bytes, lines: LineIndex, narrow: bool) -> bool:
        """Parse the clusters' new lines inside the ancestors' header and closing lines and
        give each cluster its fresh entries; False when the text does not parse cleanly or
        does not stay where it was (then wider runs, or the level above, re-parse more)."""
        ranges = _region(ancestors, [(c.new_lo, c.new_hi) for c in reparse], lines)
        if ranges is None:
            return False
        if all(c.new_lo == c.new_hi for c in reparse) and not ancestors:
            for cluster in reparse:
                cluster.fresh = []
            return True
        expected = None
        if self.analyzer.indented is not None:
            expected = 0 if not ancestors else self._level_indent(entries, clusters, reparse, base_new, data, lines)
            if narrow and (expected is None or not all(_first_indent(data, lines, c.new_lo, c.new_hi) in (None, expected)
                                                        for c in reparse)):
                return False  # a region that starts deeper (a comment included) continues the entry above
        root = self._parse_ranges(data, lines, ranges)
        if root.has_error:
            # an error inside the new text is the new text's own: a wider region, or the
            # level above, would fail on it again; the whole file is parsed at once instead
            # (which finds whether something outside the region closes it after all)
            row = _first_error_line(root)
            if row is not None and any(ns < row <= ne for ns, ne in self._new_text):
                self._hopeless = True
            return False
        descended = self._descend(root, ancestors, _last_text_line(data, lines, reparse[-1].new_lo, reparse[-1].new_hi))
        if descended is None:
            return False
        nodes, parent, in_test = descended
        fresh = self.entries(iter(nodes), base_new, parent, in_test)
        for cluster in reparse:
            cluster.fresh = []
        position = 0
        for entry in fresh:
            start, end = base_new + entry.start, base_new + entry.end
            while position < len(reparse) and start >= reparse[position].new_hi:
                position += 1
            if position == len(reparse) or start < reparse[position].new_lo or end > reparse[position].new_hi:
                return False
            reparse[position].fresh.append(entry)
        if not all(_covered(c, base_new, data, lines) for c in reparse):
            return False
        if expected is not None and not all(self._indent_ok(c.fresh, base_new, expected, data, lines) for c in reparse):
            return False
        return True

    def _level_indent(self, entries: Sequence[Entry], clusters: list[_Cluster], reparse: list[_Cluster],
                      base_new: int, data: bytes, lines: LineIndex) -> int | None:
        """The indentation of an entry of this level that was not re-parsed (None if none)."""
        index = 0
        for cluster in clusters:
            for entry in entries[index:cluster.first]:
                indent = _indent(data, lines, base_new + entry.start + cluster.shift)
                if indent is not None:
                    return indent
            if cluster not in reparse:
                for entry in cluster.fresh:
                    indent = _indent(data, lines, base_new + entry.start)
                    if indent is not None:
                        return indent
            index = cluster.last + 1
        for entry in entries[index:]:
            indent = _indent(data, lines, base_new + entry.start + (clusters[-1].shift + clusters[-1].delta if clusters else 0))
            if indent is not None:
                return indent
        return None

    def _indent_ok(self, fresh: list[Entry], base: int, expected: int, data: bytes, lines: LineIndex) -> bool:
        comment = self.analyzer.indented or b""
        for entry in fresh:
            line = data[lines.byte(base + entry.start):lines.byte(base + entry.start + 1)]
            body = line.lstrip(b" \t")
            if not body.strip() or body.startswith(comment):
                continue
            if len(line) - len(body) != expected:
                return False
        return True


class _Cluster:
    """A run of touched entries of one level and the blocks that touch them."""

    __slots__ = ("first", "last", "blocks", "lo", "hi", "new_lo", "new_hi", "delta", "shift", "fresh")

    def __init__(self, first: int, last: int, blocks: list[Reach]):
        self.first = first
        self.last = last
        self.blocks = blocks
        self.lo = self.hi = self.new_lo = self.new_hi = self.delta = self.shift = 0
        self.fresh: list[Entry] = []


_STARTS: dict[int, tuple[Sequence[Entry], list[int]]] = {}


def _starts(entries: Sequence[Entry]) -> list[int]:
    """The start lines of a level's entries, kept for the levels seen last (a level tuple is
    shared by successive versions of a file, so the same one is searched change after change)."""
    key = id(entries)
    cached = _STARTS.get(key)
    if cached is not None and cached[0] is entries:
        return cached[1]
    starts = [e.start for e in entries]
    if len(entries) > 32:
        if len(_STARTS) >= 4096:
            _STARTS.clear()
        _STARTS[key] = (entries, starts)
    return starts


def _delta(blocks: Sequence[Reach]) -> int:
    """How many lines the blocks add (negative: remove)."""
    return sum((b[3] - b[2]) - (b[1] - b[0]) for b in blocks)


def _region(ancestors: list[tuple[Entry, int, int]], inner: list[tuple[int, int]], lines: LineIndex) -> list[tuple[int, int]] | None:
    """The line ranges of a region parse: the `inner` spans inside the ancestors' header and
    closing lines (None when they do not fit, see _ranges)."""
    spans = [(start, start + entry.head) for entry, start, _ in ancestors] + inner
    spans += [(end - entry.tail, end) for entry, _, end in reversed(ancestors)]
    return _ranges(spans, lines)


def _ranges(spans: list[tuple[int, int]], lines: LineIndex) -> list[tuple[int, int]] | None:
    """The non-empty line spans for included_ranges, or None when they are out of order or
    outside the file."""
    ranges: list[tuple[int, int]] = []
    for a, b in spans:
        if a > b or b > lines.count or a < 0:
            return None
        if a == b:
            continue
        if ranges and ranges[-1][1] > a:
            return None
        ranges.append((a, b))
    return ranges


def _blank_run(data: bytes, lines: LineIndex, line: int, step: int) -> int:
    """How many blank lines lie just before (step -1) or from (step 1) new line `line`."""
    count = 0
    at = line - 1 if step < 0 else line
    while 0 <= at < lines.count and count < 64:
        if data[lines.byte(at):lines.byte(at + 1)].strip():
            break
        count += 1
        at += step
    return count


def _indent(data: bytes, lines: LineIndex, line: int) -> int | None:
    """A line's indentation; None for a blank line (or one past the end)."""
    if not 0 <= line < lines.count:
        return None
    text = data[lines.byte(line):lines.byte(line + 1)]
    body = text.lstrip(b" \t")
    return len(text) - len(body) if body.strip() else None


def _first_indent(data: bytes, lines: LineIndex, lo: int, hi: int) -> int | None:
    """The indentation of the first line in [lo, hi) that is not blank (None when all are)."""
    for line in range(lo, hi):
        indent = _indent(data, lines, line)
        if indent is not None:
            return indent
    return None


def _covered(cluster: _Cluster, base: int, data: bytes, lines: LineIndex) -> bool:
    """Whether the cluster's fresh entries (relative to line `base`) hold all of its text:
    the level the region parse reached is one container's body, so text it lost lies before
    its first entry or after its last (`}, function (error) {` inserted between a callback's
    last statement and its closing line: the statement and the new header belong to another
    body than the one the parse descended into)."""
    last = _last_text_line(data, lines, cluster.new_lo, cluster.new_hi)
    if last == cluster.new_lo:
        return True  # only blank lines
    if not cluster.fresh:
        return False
    first = _first_text_line(data, lines, cluster.new_lo, last)
    return base + cluster.fresh[0].start <= first and base + cluster.fresh[-1].end >= last


def _first_text_line(data: bytes, lines: LineIndex, lo: int, hi: int) -> int:
    """The first line in [lo, hi) that is not blank (hi when all are)."""
    for line in range(lo, hi):
        if data[lines.byte(line):lines.byte(line + 1)].strip():
            return line
    return hi


def _last_text_line(data: bytes, lines: LineIndex, lo: int, hi: int) -> int:
    """One past the last line in [lo, hi) that is not blank (lo when all are)."""
    for line in range(hi - 1, lo - 1, -1):
        if data[lines.byte(line):lines.byte(line + 1)].strip():
            return line + 1
    return lo


def _first_error_line(root: Node) -> int | None:
    """The 1-based line of the first ERROR or MISSING node (for the fallback stats)."""
    cursor = root.walk()
    while True:
        node = cursor.node
        if node is not None and (node.is_error or node.is_missing):
            return node.start_point.row + 1
        if node is not None and node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return None
