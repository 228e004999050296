"""Benchmark scripts run as `python bench/NAME.py`, which puts bench/ first on sys.path: a
script named like a standard-library module (tokenize, chunk, ...) would shadow it for every
import in that process (bench/tokenize.py once broke `import torch` in bench/embed.py)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_no_bench_script_shadows_a_standard_library_module():
    clashes = sorted(p.name for p in BENCH.glob("*.py") if p.stem in sys.stdlib_module_names)
    assert not clashes, f"rename {clashes}: they shadow standard-library modules"
