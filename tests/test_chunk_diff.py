"""diff_texts, the diff recomputed from two versions when git's patch was cut or not kept:
its blocks turn the old lines into the new ones, and its hunks carry git's three lines of
context, also where that context lies in the common first or last lines it sets aside."""

from __future__ import annotations

import random

import pytest

from gitlm.chunk.diff import diff_texts

LINES = [f"line {i}" for i in range(40)]


def _applied(old: list[str], new: list[str], blocks) -> list[str]:
    out = list(old)
    for os_, oe, ns, ne in reversed(blocks):
        out[os_:oe] = new[ns:ne]
    return out


@pytest.mark.parametrize("new,blocks", [
    (LINES, []),  # unchanged
    (["new"] + LINES, [(0, 0, 0, 1)]),  # inserted first
    (LINES + ["new"], [(40, 40, 40, 41)]),  # appended
    (LINES[:20] + ["x", "y"] + LINES[20:], [(20, 20, 20, 22)]),
    (LINES[:10] + LINES[13:], [(10, 13, 10, 10)]),
    (LINES[:10] + ["ten"] + LINES[11:30] + ["thirty"] + LINES[31:], [(10, 11, 10, 11), (30, 31, 30, 31)]),
    ([], [(0, 40, 0, 0)]),  # emptied
])
def test_blocks_of_an_edit(new, blocks):
    diff = diff_texts(LINES, new)
    assert diff.blocks == blocks
    assert _applied(LINES, new, diff.blocks) == new


def test_hunks_keep_three_lines_of_context_from_the_common_ends():
    new = LINES[:20] + ["changed"] + LINES[21:]
    (hunk,) = diff_texts(LINES, new).hunks
    assert (hunk.old_start, hunk.new_start) == (17, 17)
    assert hunk.lines == [" line 17", " line 18", " line 19", "-line 20", "+changed", " line 21", " line 22", " line 23"]


def test_changes_far_apart_make_two_hunks_and_close_ones_one():
    far = LINES[:5] + ["a"] + LINES[6:30] + ["b"] + LINES[31:]
    close = LINES[:5] + ["a"] + LINES[6:10] + ["b"] + LINES[11:]
    assert len(diff_texts(LINES, far).hunks) == 2
    assert len(diff_texts(LINES, close).hunks) == 1


def test_a_new_file_is_one_hunk_of_additions():
    (hunk,) = diff_texts([], LINES).hunks
    assert hunk.lines == ["+" + line for line in LINES]


def test_random_edits_rebuild_the_new_lines():
    rng = random.Random(7)
    for _ in range(500):
        old = [rng.choice("abcdef") for _ in range(rng.randint(0, 50))]
        new = list(old)
        for _ in range(rng.randint(0, 4)):
            at = rng.randint(0, len(new))
            if rng.random() < 0.5:
                new[at:at] = [rng.choice("abcxyz") for _ in range(rng.randint(1, 3))]
            else:
                del new[at:at + rng.randint(1, 3)]
        assert _applied(old, new, diff_texts(old, new).blocks) == new
