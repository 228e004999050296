"""PausedGC: the cycle collector is off inside, runs every `every` steps, and is restored."""

from __future__ import annotations

import gc
import weakref

from gitlm.gcpause import PausedGC


class _Node:
    def __init__(self):
        self.other = self  # a reference cycle: only the cycle collector frees it


def test_cycles_are_collected_every_n_steps_and_the_collector_is_restored():
    assert gc.isenabled()
    with PausedGC(every=3) as pause:
        assert not gc.isenabled()
        node = _Node()
        gone = weakref.ref(node)
        del node
        pause.step()
        pause.step()
        assert gone() is not None  # paused: the cycle is still there
        pause.step()
        assert gone() is None  # the third step collected it
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with PausedGC():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
