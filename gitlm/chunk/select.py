"""Which units a file change touched, paired before/after, split and sized: the targets that
become chunks.

1. Hits: walk each side's outline with that side's changed lines (removed lines in the old
   file, added lines in the new one). A change belongs to the deepest unit holding it (a
   method, not its class); a change in a container's own lines (a class's header or
   attributes, a config section's keys, a large function's statements) is the container's.
   Config files chunk by top-level section: their nested keys are the section's own lines.
2. Pairs: a unit is identified by its path of (kind, name, occurrence) from the file's top,
   so `Foo.bar` before and after pair up even when the change touched only one side; the
   counterpart's whole extent gives old_code/new_code. A unit only on one side is added or
   deleted; an added and a deleted unit of one kind at the same place are a rename.
3. Size: a container whose own lines changed is one target when it fits the budget (its
   changed members come with it); otherwise its changed member runs, header or closing
   lines become parts. A unit too large and without members is cut into line windows
   around the changes. Top-level statements (imports, assignments) are grouped per change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate, islice

from gitlm.chunk.diff import Diff
from gitlm.chunk.languages import CALLABLE_KINDS, UNIT_KINDS, Analyzer
from gitlm.chunk.outline import Entry, LineIndex, Outline

Range = tuple[int, int]
Key = tuple[tuple[str, str | None, int], ...]


@dataclass(slots=True)
class Side:
    """One version of the file: its text lines and outline."""

    data: bytes
    lines: LineIndex
    outline: Outline


@dataclass(slots=True)
class Target:
    """A unit (or part of one) a chunk will describe; line ranges are 0-based, half-open."""

    kind: str
    name: str | None
    old: Range | None
    new: Range | None
    status: str  # modified, added, deleted, renamed
    test: bool = False
    part: bool = False  # a piece of a unit too large for one chunk
    old_name: str | None = None
    members: list[str] = field(default_factory=list)  # changed keys of a config section
    order: int = 0

    def position(self) -> int:
        return self.new[0] if self.new is not None else self.old[0] if self.old is not None else 0

    def order_key(self) -> tuple:
        """File order (new lines, else old), ties broken by every other field: a stable order."""
        return (self.position(), self.old or (-1, -1), self.new or (-1, -1), self.kind, self.name or "", self.status)


@dataclass(slots=True)
class _Hit:
    entry: Entry
    start: int
    end: int
    key: Key
    name: str | None
    own: list[Range]  # changed lines in the entry's own content (not inside a member unit)
    own_members: list[tuple[str | None, int, int]]  # touched non-unit members (name, start, end)


class Selector:
    """Targets for one file change (see the module docstring)."""

    def __init__(self, analyzer: Analyzer, max_bytes: int):
        self.analyzer = analyzer
        self.max_bytes = max_bytes
        self.config = analyzer.family == "config"
        self.line_splits = 0

    # -- entry points ---------------------------------------------------------------------

    def targets(self, old: Side | None, new: Side | None, diff: Diff) -> list[Target]:
        old_hits, old_loose = self._hits(old, diff.deleted) if old is not None else ({}, [])
        new_hits, new_loose = self._hits(new, diff.added) if new is not None else ({}, [])
        targets: list[Target] = []
        covered: set[Key] = set()  # keys of whole containers: their members need no target
        # containers before their members; the rest in file order (not set order, which
        # varies between runs with string hashing)
        keys = sorted(set(old_hits) | set(new_hits), key=lambda k: (len(k), _key_position(k, new_hits, old_hits)))
        pending_added: list[Target] = []
        pending_deleted: list[Target] = []
        for key in keys:
            if any(key[:n] in covered for n in range(1, len(key))):
                continue
            old_hit, new_hit = old_hits.get(key), new_hits.get(key)
            old_found = ((old_hit.start, old_hit.end), old_hit.entry) if old_hit else (self._find(old, key) if old else None)
            new_found = ((new_hit.start, new_hit.end), new_hit.entry) if new_hit else (self._find(new, key) if new else None)
            old_span = old_found[0] if old_found else None
            new_span = new_found[0] if new_found else None
            entry = (new_hit or old_hit).entry  # type: ignore[union-attr]
            name = (new_hit or old_hit).name  # type: ignore[union-attr]
            status = "modified" if old_span and new_span else "added" if new_span else "deleted"
            members = sorted({n for hit in (old_hit, new_hit) if hit for n, _, _ in hit.own_members if n})
            own = any(hit.own for hit in (old_hit, new_hit) if hit)
            if entry.members is not None and not own:
                continue  # only its member units changed: they are targets of their own
            if entry.members is not None and self._fits(old, old_span, new, new_span):
                covered.add(key)
            elif entry.members is not None or not self._fits(old, old_span, new, new_span):
                side_entry = new_found[1] if new_found else old_found[1]  # type: ignore[index]
                targets.extend(self._parts(side_entry, name, status, old, old_span, new, new_span, diff,
                                           old_found[1] if old_found else None))
                continue
            target = Target(entry.kind, name, old_span, new_span, status, entry.test, members=members)
            if status == "added":
                pending_added.append(target)
            elif status == "deleted":
                pending_deleted.append(target)
            targets.append(target)
        self._pair_renames(pending_added, pending_deleted, targets, diff)
        targets.extend(self._statements(old, old_loose, new, new_loose, diff))
        targets.sort(key=Target.order_key)
        return targets

    # -- hits -----------------------------------------------------------------------------

    def _hits(self, side: Side, changed: list[Range]) -> tuple[dict[Key, _Hit], list[Range]]:
        hits: dict[Key, _Hit] = {}
        loose: list[Range] = []
        if changed:
            self._walk(side.outline.entries, 0, changed, (), None, None, hits, loose, Counter(), 0)
        return hits, loose

    def _walk(self, entries: Sequence[Entry], base: int, changed: list[Range], key: Key, qual: str | None,
              parent_kind: str | None, hits: dict[Key, _Hit], loose: list[Range], seen: Counter, depth: int) -> list[Range]:
        """Record the hits under `entries`; return the changed ranges that fell on non-unit
        entries of this level (the caller's own content)."""
        own: list[Range] = []
        cursor, count = 0, len(changed)
        units = () if self.config and depth > 0 else UNIT_KINDS  # config files: only top-level sections are units
        # entries that end before the first change only count in the occurrence numbers:
        # counted in one pass (a change deep in a long class or module is common)
        first, edge = 0, (changed[0][0] - base if changed else 0)
        while first < len(entries) and entries[first].end <= edge:
            first += 1
        if first and units:
            seen.update((("callable" if kind in CALLABLE_KINDS else kind), entry.name)
                        for entry in islice(entries, first) if (kind := entry.kind) in units)
        for entry in islice(entries, first, None):
            kind = entry.kind
            unit = kind in units
            if unit:
                group = "callable" if kind in CALLABLE_KINDS else kind
                occurrence = seen.get((group, entry.name), 0)
                seen[(group, entry.name)] = occurrence + 1
            start = base + entry.start
            while cursor < count and changed[cursor][1] <= start:
                cursor += 1
            if cursor == count:
                break
            end = base + entry.end
            if changed[cursor][0] >= end:
                continue
            inside = _overlapping(changed, start, end, cursor)
            if not unit:
                if entry.kind == "block" and entry.members:  # #ifdef ... #endif: its units belong to this level
                    body_lo, body_hi = start + entry.head, end - entry.tail
                    edges = [r for r in inside if r[0] < body_lo or r[1] > body_hi]
                    body = _overlapping(inside, body_lo, body_hi)
                    rest = self._walk(entry.members, start, body, key, qual, parent_kind, hits, loose, seen, depth) if body else []
                    if key:
                        own.extend(edges + rest)
                    else:
                        loose.extend(span for span in ((start, body_lo), (body_hi, end))
                                     if span[1] > span[0] and _overlapping(edges, *span))
                elif key:
                    own.extend(inside)
                else:
                    loose.append((start, end))
                continue
            name = self._qualify(qual, entry.name, parent_kind)
            entry_key = key + ((group, entry.name, occurrence),)
            own_members: list[tuple[str | None, int, int]] = []
            if entry.members:
                header = [r for r in inside if r[0] < start + entry.head or r[1] > end - entry.tail]
                body = _overlapping(inside, start + entry.head, end - entry.tail)
                own_ranges = self._walk(entry.members, start, body, entry_key, name if entry.kind != "impl" else self._qualify(qual, entry.scope, parent_kind),
                                        entry.kind, hits, loose, Counter(), depth + 1) if body else []
                own_ranges = header + own_ranges
                if own_ranges:
                    own_ranges.sort()
                    firsts = [a for a, _ in own_ranges]
                    furthest = list(accumulate((b for _, b in own_ranges), max))
                    for member in entry.members:
                        if member.is_unit and not self.config:
                            continue
                        m_start, m_end = start + member.start, start + member.end
                        last = bisect_left(firsts, m_end) - 1  # the ranges that start before the member ends
                        if last >= 0 and furthest[last] > m_start:  # ... and one of them ends inside or after it
                            own_members.append((member.name, m_start, m_end))
            else:
                own_ranges = inside
            if own_ranges:
                hits[entry_key] = _Hit(entry, start, end, entry_key, name, own_ranges, own_members)
        return own

    def _qualify(self, qual: str | None, name: str | None, parent_kind: str | None) -> str | None:
        if qual is None:
            return name
        if name is None:
            return qual
        separator = " > " if parent_kind == "test" else self.analyzer.separator
        return f"{qual}{separator}{name}"

    def _find(self, side: Side, key: Key) -> tuple[Range, Entry] | None:
        """The extent and entry of the unit at `key` in the other version, or None."""
        entries: Sequence[Entry] = side.outline.entries
        base = 0
        found: Entry | None = None
        for depth, (group, name, occurrence) in enumerate(key):
            found = None
            count = 0
            for entry, start in _flatten(entries, base):
                if not entry.is_unit or (self.config and depth > 0):
                    continue
                entry_group = "callable" if entry.kind in CALLABLE_KINDS else entry.kind
                if entry_group == group and entry.name == name:
                    if count == occurrence:
                        found, base = entry, start
                        break
                    count += 1
            if found is None:
                return None
            entries = found.members or ()
        return ((base, base + found.end - found.start), found) if found is not None else None

    # -- sizes and parts ------------------------------------------------------------------

    def _fits(self, old: Side | None, old_span: Range | None, new: Side | None, new_span: Range | None) -> bool:
        return all(side.lines.size(*span) <= self.max_bytes for side, span in ((old, old_span), (new, new_span))
                   if side is not None and span is not None)

    def _parts(self, entry: Entry, name: str | None, status: str, old: Side | None, old_span: Range | None,
               new: Side | None, new_span: Range | None, diff: Diff, old_entry: Entry | None = None) -> list[Target]:
        """A unit too large for one chunk, cut at its members (or in line windows)."""
        use_new = new is not None and new_span is not None
        if use_new and new is not None and new_span is not None and old is not None and old_span is not None and old_entry is not None:
            use_new = new.lines.size(*new_span) >= old.lines.size(*old_span)  # split the larger side
        if not use_new:
            entry = old_entry if old_entry is not None else entry
        side = new if use_new else old
        span = new_span if use_new else old_span
        assert side is not None and span is not None
        # the changes inside the unit, in this side's lines (deletions as points in the new file)
        if use_new:
            changed = [(ns, ne) for os_, oe, ns, ne in diff.blocks if ns <= span[1] and ne >= span[0]]
        else:
            changed = [(os_, oe) for os_, oe, _, _ in diff.blocks if os_ <= span[1] and oe >= span[0]]
        counterpart_span = old_span if use_new else new_span
        pieces: list[Range] = []
        entry_on_side = entry
        if entry_on_side is not None and entry_on_side.members:
            start = span[0]
            members = [(start + m.start, start + m.end, m) for m in entry_on_side.members]
            size = side.lines.size
            free = [not (m.is_unit and not self.config) for _, _, m in members]  # member units are targets of their own
            head = (start, start + entry_on_side.head)
            tail = (span[1] - entry_on_side.tail, span[1])
            if head[1] > head[0] and _touches(changed, *head):
                pieces.append(head)
            runs: list[list[int]] = []  # [first, last] member indexes: changed members, joined while they fit
            for index, (m_start, m_end, _) in enumerate(members):
                if not free[index] or not _touches(changed, m_start, m_end):
                    continue
                if runs and runs[-1][1] == index - 1 and size(members[runs[-1][0]][0], m_end) <= self.max_bytes:
                    runs[-1][1] = index
                else:
                    runs.append([index, index])
            for number, run in enumerate(runs):  # widen with whole neighbouring statements up to the budget
                floor = runs[number - 1][1] + 1 if number > 0 else 0
                ceiling = runs[number + 1][0] - 1 if number + 1 < len(runs) else len(members) - 1
                grown = True
                while grown:
                    grown = False
                    if run[0] > floor and free[run[0] - 1] and size(members[run[0] - 1][0], members[run[1]][1]) <= self.max_bytes:
                        run[0] -= 1
                        grown = True
                    if run[1] < ceiling and free[run[1] + 1] and size(members[run[0]][0], members[run[1] + 1][1]) <= self.max_bytes:
                        run[1] += 1
                        grown = True
                pieces.append((members[run[0]][0], members[run[1]][1]))
            if tail[1] > tail[0] and _touches(changed, *tail):
                pieces.append(tail)
        else:
            pieces.append(span)
        targets: list[Target] = []
        for lo, hi in pieces:
            pair: tuple[Range | None, Range | None]
            if use_new:
                pair = (self._counterpart(diff, old, lo, hi, True) if counterpart_span else None, (lo, hi))
            else:
                pair = ((lo, hi), self._counterpart(diff, new, lo, hi, False) if counterpart_span else None)
            for old_range, new_range in self._windows(old if pair[0] else None, pair[0], new if pair[1] else None, pair[1], diff):
                window = new_range if use_new else old_range
                piece_name = name
                if self.config and entry_on_side is not None and entry_on_side.members and window is not None:
                    names = [m.name for m in entry_on_side.members
                             if window[0] <= span[0] + m.start and span[0] + m.end <= window[1] and m.name]
                    if len(names) == 1:
                        piece_name = f"{name}.{names[0]}" if name else names[0]
                targets.append(Target(entry.kind, piece_name, old_range, new_range, status, entry.test, part=True))
        return targets

    def _counterpart(self, diff: Diff, other: Side | None, lo: int, hi: int, to_old: bool) -> Range:
        """The other side's lines for a piece [lo, hi) of a unit: the lines the diff maps it
        to, unless a block cutting through the piece makes that more than a chunk's budget
        (a rewritten class, a line-ending conversion: every piece would take the whole
        block and be cut in windows over all of it); then the piece's share of the block."""
        mapped = (diff.to_old(lo, end=False), diff.to_old(hi, end=True)) if to_old else \
            (diff.to_new(lo, end=False), diff.to_new(hi, end=True))
        if other is not None and other.lines.size(*mapped) > self.max_bytes:
            return diff.piece_to_old(lo, hi) if to_old else diff.piece_to_new(lo, hi)
        return mapped

    def _windows(self, old: Side | None, old_span: Range | None, new: Side | None, new_span: Range | None,
                 diff: Diff) -> list[tuple[Range | None, Range | None]]:
        """(old range, new range) pieces of a change region that each fit the budget on both
        sides: the whole region when it fits; else its changed blocks (cut in budget-sized
        pieces when larger), neighbours joined while both sides fit, widened with context
        lines (which pair one to one) up to the budget."""
        if self._fits(old, old_span, new, new_span):
            return [(old_span, new_span)]
        self.line_splits += 1
        old_size = old.lines.size if old is not None and old_span is not None else None
        new_size = new.lines.size if new is not None and new_span is not None else None
        o_lo, o_hi = old_span if old_size and old_span is not None else (0, 0)
        n_lo, n_hi = new_span if new_size and new_span is not None else (0, 0)
        if old_size and new_size:
            blocks = [(max(os_, o_lo), min(oe, o_hi), max(ns, n_lo), min(ne, n_hi)) for os_, oe, ns, ne in diff.blocks
                      if os_ <= o_hi and oe >= o_lo and ns <= n_hi and ne >= n_lo]
        elif new_size:
            blocks = [(0, 0, max(ns, n_lo), min(ne, n_hi)) for _, _, ns, ne in diff.blocks if ne > n_lo and ns < n_hi]
        else:
            blocks = [(max(os_, o_lo), min(oe, o_hi), 0, 0) for os_, oe, _, _ in diff.blocks if oe > o_lo and os_ < o_hi]
        budget = self.max_bytes

        def fits(a: int, b: int, c: int, d: int) -> bool:
            return (not old_size or old_size(a, b) <= budget) and (not new_size or new_size(c, d) <= budget)

        # cut blocks larger than the budget on either side
        pieces: list[list[int]] = []
        for os_, oe, ns, ne in blocks:
            while True:
                oe_cut, ne_cut = os_, ns
                while oe_cut < oe and (oe_cut == os_ or old_size(os_, oe_cut + 1) <= budget):  # type: ignore[misc]
                    oe_cut += 1
                while ne_cut < ne and (ne_cut == ns or new_size(ns, ne_cut + 1) <= budget):  # type: ignore[misc]
                    ne_cut += 1
                pieces.append([os_, oe_cut, ns, ne_cut])
                os_, ns = oe_cut, ne_cut
                if os_ >= oe and ns >= ne:
                    break
        # join neighbours while both sides fit
        joined: list[list[int]] = []
        for piece in pieces:
            if joined and fits(joined[-1][0], max(piece[1], joined[-1][1]), joined[-1][2], max(piece[3], joined[-1][3])):
                joined[-1][1] = max(piece[1], joined[-1][1])
                joined[-1][3] = max(piece[3], joined[-1][3])
            else:
                joined.append(piece)
        # widen with context (the same lines on both sides) up to the budget
        for index, w in enumerate(joined):
            before = joined[index - 1] if index > 0 else None
            after = joined[index + 1] if index + 1 < len(joined) else None
            while True:
                grown = False
                if (w[0] > (before[1] if before else o_lo) or not old_size) and (w[2] > (before[3] if before else n_lo) or not new_size) \
                        and (old_size or w[2] > n_lo) and (new_size or w[0] > o_lo) and fits(w[0] - bool(old_size), w[1], w[2] - bool(new_size), w[3]):
                    w[0] -= bool(old_size)
                    w[2] -= bool(new_size)
                    grown = True
                if (w[1] < (after[0] if after else o_hi) or not old_size) and (w[3] < (after[2] if after else n_hi) or not new_size) \
                        and (old_size or w[3] < n_hi) and (new_size or w[1] < o_hi) and fits(w[0], w[1] + bool(old_size), w[2], w[3] + bool(new_size)):
                    w[1] += bool(old_size)
                    w[3] += bool(new_size)
                    grown = True
                if not grown:
                    break
        if not joined:
            return [(old_span, new_span)]
        return [((w[0], w[1]) if old_size else None, (w[2], w[3]) if new_size else None) for w in joined]

    # -- renames and statements -----------------------------------------------------------

    def _pair_renames(self, added: list[Target], deleted: list[Target], targets: list[Target], diff: Diff) -> None:
        """An added and a deleted unit of the same kind at the same place are one renamed unit."""
        for gone in deleted:
            if gone.old is None:
                continue
            mapped = (diff.to_new(gone.old[0], end=False), diff.to_new(gone.old[1], end=True))
            for new in added:
                if new.status != "added" or new.new is None:
                    continue
                same_kind = (gone.kind in CALLABLE_KINDS) == (new.kind in CALLABLE_KINDS) and (gone.kind in CALLABLE_KINDS or gone.kind == new.kind)
                if same_kind and new.new[0] < mapped[1] and mapped[0] < new.new[1]:
                    new.status, new.old, new.old_name = "renamed", gone.old, gone.name
                    targets.remove(gone)
                    break

    def _statements(self, old: Side | None, old_loose: list[Range], new: Side | None, new_loose: list[Range],
                    diff: Diff) -> list[Target]:
        """Changed top-level statements, grouped per place (in new-file lines)."""
        if not old_loose and not new_loose:
            return []
        spans: list[tuple[int, int, Range | None, Range | None]] = []
        for a, b in new_loose:
            spans.append((a, b, None, (a, b)))
        for a, b in old_loose:
            mapped = (diff.to_new(a, end=False), diff.to_new(b, end=True)) if new is not None else (a, b)
            spans.append((mapped[0], mapped[1], (a, b), None))
        spans.sort(key=lambda s: (s[0], s[1]))
        groups: list[list] = []
        for lo, hi, o, n in spans:
            if groups and lo <= groups[-1][1]:
                group = groups[-1]
                group[1] = max(group[1], hi)
            else:
                group = [lo, hi, None, None]
                groups.append(group)
            if o is not None:
                group[2] = o if group[2] is None else (min(group[2][0], o[0]), max(group[2][1], o[1]))
            if n is not None:
                group[3] = n if group[3] is None else (min(group[3][0], n[0]), max(group[3][1], n[1]))
        targets: list[Target] = []
        for _, _, o, n in groups:
            status = "modified" if old is not None and new is not None else "added" if old is None else "deleted"
            if self._fits(old, o, new, n):
                targets.append(Target("module", None, o, n, status))
                continue
            for old_range, new_range in self._windows(old if o else None, o, new if n else None, n, diff):
                targets.append(Target("module", None, old_range, new_range, status, part=True))
        return targets


def _key_position(key: Key, new_hits: dict[Key, _Hit], old_hits: dict[Key, _Hit]) -> tuple:
    hit = new_hits.get(key)
    side = 0
    if hit is None:
        hit, side = old_hits[key], 1
    return (hit.start, side, [(group, name or "", occurrence) for group, name, occurrence in key])


def _overlapping(ranges: Sequence[Range], lo: int, hi: int, first: int = 0) -> list[Range]:
    """The parts of the sorted ranges (from index `first`) that fall inside [lo, hi)."""
    out = []
    for index in range(first, len(ranges)):
        a, b = ranges[index]
        if b <= lo:
            continue
        if a >= hi:
            break
        out.append((max(a, lo), min(b, hi)))
    return out


def _touches(changed: Sequence[Range], lo: int, hi: int) -> bool:
    """Whether a change overlaps [lo, hi); an empty change (a deletion point) touches the
    lines on both sides of it."""
    for a, b in changed:
        if a == b:
            if lo <= a <= hi:
                return True
        elif a < hi and lo < b:
            return True
    return False


def _flatten(entries: Sequence[Entry], base: int):
    """Entries of a level with #ifdef-style blocks opened (their units belong to the level)."""
    for entry in entries:
        start = base + entry.start
        if entry.kind == "block" and entry.members:
            yield from _flatten(entry.members, start)
        else:
            yield entry, start


def _walk_all(entries: Sequence[Entry], base: int):
    for entry in entries:
        start = base + entry.start
        yield entry, start
        if entry.members:
            yield from _walk_all(entry.members, start)
