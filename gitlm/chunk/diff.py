"""A file's unified diff as hunks and changed blocks, and the part of it inside one unit.

Line numbers here are 0-based and ranges half-open. A block is one run of consecutive
removed/added lines: (old_start, old_end, new_start, new_end); a pure insertion has
old_start == old_end (the old line it goes before), a pure deletion new_start == new_end.
Between blocks, old and new lines correspond one to one.

The scraper's patch (git's own diff, -U3, secrets already redacted) is used when it is
complete; when it was cut at max_patch_bytes or not kept (--no-patches), the diff is
recomputed from the two blobs with difflib (counted as patches_recomputed).
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

_HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)")

Block = tuple[int, int, int, int]


@dataclass(slots=True)
class Hunk:
    old_start: int  # 0-based line of the hunk's first old line (its position when it has none)
    new_start: int
    lines: list[str]  # ' ', '-', '+' or '\\' prefixed, without line ends
    heading: str = ""  # git's function context after the second @@
    old_count: int = -1  # the header's line counts (-1: not from a header)
    new_count: int = -1
    olds: list[int] = field(default_factory=list)  # per line: its old line number (the next one for '+')
    news: list[int] = field(default_factory=list)  # per line: its new line number (the next one for '-')
    marks: str = ""  # per line: its first character


@dataclass(slots=True)
class Clip:
    """The part of a diff inside one unit: its hunk text and its -/+ lines (without marks)."""

    patch: str
    removed: list[str]
    added: list[str]

    @property
    def additions(self) -> int:
        return len(self.added)

    @property
    def deletions(self) -> int:
        return len(self.removed)


@dataclass(slots=True)
class Diff:
    hunks: list[Hunk]
    blocks: list[Block] = field(default_factory=list)
    consistent: bool = True  # every hunk's lines add up to its header's counts
    recomputed: bool = False  # built from the blobs (not git's patch, which the scraper redacted)
    _index: tuple[list[Hunk], tuple[list[int], ...] | None] | None = None  # hunks with lines, their first/last lines

    @classmethod
    def from_hunks(cls, hunks: list[Hunk]) -> Diff:
        blocks: list[Block] = []
        consistent = True
        for hunk in hunks:
            old = hunk.old_start
            new = hunk.new_start
            open_old = open_new = -1
            olds = hunk.olds = []
            news = hunk.news = []
            marks = [line[:1] or " " for line in hunk.lines]
            hunk.marks = "".join(marks)
            for mark in marks:
                olds.append(old)
                news.append(new)
                if mark == " ":
                    if open_old >= 0:
                        blocks.append((open_old, old, open_new, new))
                        open_old = -1
                    old += 1
                    new += 1
                elif mark == "-" or mark == "+":
                    if open_old < 0:
                        open_old, open_new = old, new
                    if mark == "-":
                        old += 1
                    else:
                        new += 1
                elif mark != "\\":  # any other line reads as context
                    if open_old >= 0:
                        blocks.append((open_old, old, open_new, new))
                        open_old = -1
                    old += 1
                    new += 1
            if open_old >= 0:
                blocks.append((open_old, old, open_new, new))
            if hunk.old_count >= 0 and (old - hunk.old_start != hunk.old_count or new - hunk.new_start != hunk.new_count):
                consistent = False
        return cls(hunks, blocks, consistent)

    @property
    def deleted(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b, _, _ in self.blocks if b > a]

    @property
    def added(self) -> list[tuple[int, int]]:
        return [(c, d) for _, _, c, d in self.blocks if d > c]

    # -- line mapping between the two sides --------------------------------------------------

    def to_old(self, line: int, *, end: bool) -> int:
        """The old line boundary matching new line boundary `line`. A boundary inside a block
        maps to the block's start (end=False) or end (end=True), and a pure deletion at the
        boundary is inside both ways, so a range mapped this way holds every block it touches."""
        return _map(self.blocks, line, end, 2, 0)

    def to_new(self, line: int, *, end: bool) -> int:
        """The new line boundary matching old line boundary `line` (as `to_old`)."""
        return _map(self.blocks, line, end, 0, 2)

    def piece_to_old(self, lo: int, hi: int) -> tuple[int, int]:
        """The old lines matching new lines [lo, hi), a piece of a unit cut in parts: as
        to_old, except that a boundary strictly inside a block maps proportionally into the
        block's old lines. Pieces that cut through one large block (a rewritten class, a
        line-ending conversion) then share its old lines between them instead of each taking
        all of them; the pieces of a unit still tile its old side."""
        return _map_piece(self.blocks, lo, False, 2, 0), _map_piece(self.blocks, hi, True, 2, 0)

    def piece_to_new(self, lo: int, hi: int) -> tuple[int, int]:
        """The new lines matching old lines [lo, hi) (as piece_to_old)."""
        return _map_piece(self.blocks, lo, False, 0, 2), _map_piece(self.blocks, hi, True, 0, 2)

    # -- the part of the diff inside a unit ---------------------------------------------------

    def clip(self, old: tuple[int, int] | None, new: tuple[int, int] | None, context: int = 3) -> Clip:
        """The changes inside old lines `old` and new lines `new` as hunk text, with up to
        `context` lines of context that lie inside the unit too."""
        o_lo, o_hi = old if old is not None else (0, 0)
        n_lo, n_hi = new if new is not None else (0, 0)
        parts: list[str] = []
        removed: list[str] = []
        added: list[str] = []
        for hunk in self._hunks_within(o_lo, o_hi, n_lo, n_hi):
            olds, news, lines, marks = hunk.olds, hunk.news, hunk.lines, hunk.marks
            # the lines whose old number is in [o_lo, o_hi) or new number in [n_lo, n_hi)
            spans = []
            if o_hi > o_lo and olds[0] < o_hi and olds[-1] >= o_lo:
                spans.append((bisect_left(olds, o_lo), bisect_left(olds, o_hi)))
            if n_hi > n_lo and news[0] < n_hi and news[-1] >= n_lo:
                spans.append((bisect_left(news, n_lo), bisect_left(news, n_hi)))
            if not spans:
                continue
            start, stop = min(a for a, _ in spans), max(b for _, b in spans)
            if len(spans) == 2 and spans[0] == spans[1]:
                # the lines in the old range are the lines in the new range (the common case): all
                # of them, but a no-newline note that would open the piece
                start += marks[start] == "\\" if start < stop else 0
                kept: list[int] | range = range(start, stop)
                kept_marks = marks[start:stop]
            else:
                kept = []
                for index in range(start, stop):
                    mark = marks[index]
                    if mark == "-":
                        keep = o_lo <= olds[index] < o_hi
                    elif mark == "+":
                        keep = n_lo <= news[index] < n_hi
                    elif mark == "\\":
                        keep = bool(kept) and kept[-1] == index - 1
                    else:
                        keep = o_lo <= olds[index] < o_hi or n_lo <= news[index] < n_hi
                    if keep:
                        kept.append(index)
                kept_marks = "".join([marks[k] for k in kept])
            first = _first_change(kept_marks)
            if first < 0:
                continue
            last = max(kept_marks.rfind("-"), kept_marks.rfind("+"))
            lo = first
            while lo > 0 and first - lo < context and kept_marks[lo - 1] not in "-+\\":
                lo -= 1
            hi = last
            while hi + 1 < len(kept) and kept_marks[hi + 1] not in "-+" and (
                    hi - last < context or kept_marks[hi + 1] == "\\"):
                hi += 1
            piece = kept[lo:hi + 1]
            piece_marks = kept_marks[lo:hi + 1]
            plus, minus, note = piece_marks.count("+"), piece_marks.count("-"), piece_marks.count("\\")
            context_lines = len(piece_marks) - plus - minus - note
            old_count, new_count = context_lines + minus, context_lines + plus
            # a range (the common case) is sliced; kept lines picked one by one otherwise
            piece_lines = lines[piece.start:piece.stop] if isinstance(piece, range) else [lines[k] for k in piece]
            if minus:
                removed.extend([line[1:] for line, mark in zip(piece_lines, piece_marks) if mark == "-"])
            if plus:
                added.extend([line[1:] for line, mark in zip(piece_lines, piece_marks) if mark == "+"])
            old_first = olds[piece[0]] + (1 if old_count else 0)
            new_first = news[piece[0]] + (1 if new_count else 0)
            parts.append(f"@@ -{_range(old_first, old_count)} +{_range(new_first, new_count)} @@{hunk.heading}\n")
            parts.append("\n".join(piece_lines))
            parts.append("\n")
        return Clip("".join(parts), removed, added)

    def _hunks_within(self, o_lo: int, o_hi: int, n_lo: int, n_hi: int) -> list[Hunk]:
        """The hunks that may hold lines of old [o_lo, o_hi) or new [n_lo, n_hi), found by
        bisection: a unit's clip does not walk every hunk of a long diff."""
        if self._index is None:
            hunks = [h for h in self.hunks if h.lines]
            firsts_lasts = ([h.olds[0] for h in hunks], [h.olds[-1] for h in hunks], [h.news[0] for h in hunks],
                            [h.news[-1] for h in hunks])
            self._index = (hunks, firsts_lasts if all(b == sorted(b) for b in firsts_lasts) else None)
        hunks, bounds = self._index
        if bounds is None:  # hunks out of order (not from git): all of them
            return hunks
        old = (bisect_left(bounds[1], o_lo), bisect_left(bounds[0], o_hi)) if o_hi > o_lo else None
        new = (bisect_left(bounds[3], n_lo), bisect_left(bounds[2], n_hi)) if n_hi > n_lo else None
        if old is None or new is None or old == new:
            first, stop = old or new or (0, 0)
            return hunks[first:stop]
        return [hunks[i] for i in sorted(set(range(*old)) | set(range(*new)))]


def _map(blocks: Sequence[Block], line: int, end: bool, src: int, dst: int) -> int:
    shift = 0
    for block in blocks:
        s_lo, s_hi, d_lo, d_hi = block[src], block[src + 1], block[dst], block[dst + 1]
        if line < s_lo:
            break
        if line == s_lo:
            if s_lo == s_hi:
                return d_hi if end else d_lo
            return d_lo
        if line < s_hi:
            return d_hi if end else d_lo
        shift = d_hi - s_hi
    return line + shift


def _map_piece(blocks: Sequence[Block], line: int, end: bool, src: int, dst: int) -> int:
    for block in blocks:
        s_lo, s_hi = block[src], block[src + 1]
        if s_lo >= line:
            break
        if line < s_hi:  # strictly inside: the same fraction of the block's other side
            d_lo, d_hi = block[dst], block[dst + 1]
            return d_lo + (line - s_lo) * (d_hi - d_lo) // (s_hi - s_lo)
    return _map(blocks, line, end, src, dst)


def _first_change(marks: str, start: int = 0) -> int:
    """The index of the first - or + mark from `start` (-1: none)."""
    minus, plus = marks.find("-", start), marks.find("+", start)
    return plus if minus < 0 else minus if plus < 0 else min(minus, plus)


def _range(start: int, count: int) -> str:
    return str(start) if count == 1 else f"{start},{count}"


def parse_patch(patch: str) -> Diff:
    """The hunks of one file's patch as the scraper stored it (headers before the first @@
    are skipped)."""
    hunks: list[Hunk] = []
    lines = patch.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    current: list[str] | None = None
    for line in lines:
        if line.startswith("@@ "):
            match = _HEADER.match(line)
            if match is None:
                current = None
                continue
            a, b, c, d, heading = match.groups()
            old_count = 1 if b is None else int(b)
            new_count = 1 if d is None else int(d)
            old_start = int(a) - (1 if old_count else 0)
            new_start = int(c) - (1 if new_count else 0)
            current = []
            hunks.append(Hunk(max(old_start, 0), max(new_start, 0), current, heading, old_count, new_count))
        elif current is not None:
            current.append(line)
    return Diff.from_hunks(hunks)


def apply_patch(diff: Diff, old: bytes, line_start: Callable[[int], int], line_count: int) -> bytes | None:
    """The new version of a file: the old one (`line_start(i)`: where its line i starts)
    with each block of the diff replaced by its + lines; None when the diff does not fit it.
    Exact only for a complete, unredacted patch decoded without loss: the caller checks the
    result against the blob id git recorded."""
    parts: list[bytes] = []
    copied = 0  # the old lines before this one are in parts
    for hunk in diff.hunks:
        marks, lines = hunk.marks, hunk.lines
        count = len(marks)
        index = _first_change(marks)
        while 0 <= index < count:
            start = end = hunk.olds[index]
            added: list[str] = []
            newline = True
            while index < count and (mark := marks[index]) in "-+\\":
                if mark == "-":
                    end += 1
                elif mark == "+":
                    added.append(lines[index][1:])
                elif marks[index - 1] == "+":  # "\\ No newline at end of file" after a + line
                    newline = False
                index += 1
            if start < copied or end > line_count:
                return None
            parts.append(old[line_start(copied):line_start(start)])
            if added:
                text = "\n".join(added) + ("\n" if newline else "")
                try:
                    parts.append(text.encode("utf-8"))
                except UnicodeEncodeError:
                    return None
            copied = end
            index = _first_change(marks, index)
    parts.append(old[line_start(copied):line_start(line_count)])
    return b"".join(parts)


def diff_texts(old_lines: Sequence[str], new_lines: Sequence[str], context: int = 3) -> Diff:
    """A unified diff of two line lists (without line ends), for changes whose patch is
    missing or was truncated. The lines both ends share are set aside first, as git's xdiff
    does: difflib then only compares the changed middle (most of its cost on a long file
    with a few edits is otherwise spent matching the unchanged lines)."""
    hunks: list[Hunk] = []
    for group in _grouped(_opcodes(old_lines, new_lines), context):
        first = group[0]
        lines: list[str] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(" " + line for line in old_lines[i1:i2])
                continue
            if tag in ("replace", "delete"):
                lines.extend("-" + line for line in old_lines[i1:i2])
            if tag in ("replace", "insert"):
                lines.extend("+" + line for line in new_lines[j1:j2])
        hunks.append(Hunk(first[1], first[3], lines))
    diff = Diff.from_hunks(hunks)
    diff.recomputed = True
    return diff


Opcode = tuple[str, int, int, int, int]


def _opcodes(old_lines: Sequence[str], new_lines: Sequence[str]) -> list[Opcode]:
    """difflib's opcodes for the two line lists, the common first and last lines taken out first."""
    old_count, new_count = len(old_lines), len(new_lines)
    limit = min(old_count, new_count)
    prefix = 0
    while prefix < limit and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old_lines[old_count - 1 - suffix] == new_lines[new_count - 1 - suffix]:
        suffix += 1
    old_end, new_end = old_count - suffix, new_count - suffix
    codes: list[Opcode] = [("equal", 0, prefix, 0, prefix)] if prefix else []
    if prefix == old_end or prefix == new_end:
        if prefix < old_end or prefix < new_end:
            codes.append(("delete" if prefix < old_end else "insert", prefix, old_end, prefix, new_end))
    else:
        old_middle, new_middle = old_lines[prefix:old_end], new_lines[prefix:new_end]
        matcher = difflib.SequenceMatcher(None, old_middle, new_middle, autojunk=len(old_middle) + len(new_middle) > 4000)
        codes.extend((tag, i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix) for tag, i1, i2, j1, j2 in matcher.get_opcodes())
    if suffix:
        codes.append(("equal", old_end, old_count, new_end, new_count))
    return codes


def _grouped(codes: list[Opcode], context: int) -> list[list[Opcode]]:
    """The opcodes cut into hunks with `context` equal lines around each change
    (difflib's get_grouped_opcodes, on opcodes computed above)."""
    if not codes or all(code[0] == "equal" for code in codes):
        return []
    codes = list(codes)
    tag, i1, i2, j1, j2 = codes[0]
    if tag == "equal":
        codes[0] = (tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2)
    tag, i1, i2, j1, j2 = codes[-1]
    if tag == "equal":
        codes[-1] = (tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context))
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def changed_lines_in(ranges: Sequence[tuple[int, int]], lo: int, hi: int) -> bool:
    """Whether any of the sorted ranges overlaps [lo, hi)."""
    starts = [a for a, _ in ranges]
    k = bisect_right(starts, hi - 1) - 1
    while k >= 0:
        a, b = ranges[k]
        if b > lo:
            return True
        if b <= lo:
            return False
        k -= 1
    return False
