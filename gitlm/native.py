"""The chunker's hot modules compiled to C with mypyc, used when they match the sources.

Chunking a history runs its per-unit Python (outline derivation, unit selection, diff
clipping) tens of thousands of times; compiled by mypyc (the compiler black and mypy ship
their wheels with) the same code takes ~15% less CPU on ipython's history. It stays optional:

- `python -m gitlm.native build` (run by scripts/setup; scripts/test adds --strict, so a
  source mypyc rejects fails the tests) compiles MODULES from this
  checkout into `<venv>/gitlm-native/` with a C compiler; without one it says so and gitlm
  runs as plain Python.
- `install()` (run when gitlm.chunk is imported) serves those modules from the compiled
  files only while every source file still hashes as it did at build time and the Python
  ABI is the same: an edited checkout runs its edits, in plain Python, until the next build.
  All of them or none: compiled modules call each other directly.
- GITLM_NATIVE=0 turns them off (to compare, or to debug with Python tools).

`STATUS` says which way this process runs ("compiled", or why not); the chunk phase records
it in MANIFEST.json.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

MODULES = ("outline", "diff", "select", "chunker", "languages", "rules", "cochange", "blobs", "tokens", "ini")
PACKAGE = "gitlm.chunk"
SOURCE_DIR = Path(__file__).resolve().parent / "chunk"
TARGET = Path(sys.prefix) / "gitlm-native"
MANIFEST = "manifest.json"

STATUS = "not installed"


def install() -> str:
    """Put the compiled modules first on the import path when they are current; returns STATUS."""
    global STATUS
    if any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return STATUS
    if os.environ.get("GITLM_NATIVE", "1") == "0":
        STATUS = "plain Python (GITLM_NATIVE=0)"
        return STATUS
    files = _current_build()
    if isinstance(files, str):
        STATUS = f"plain Python ({files})"
        return STATUS
    sys.meta_path.insert(0, _Finder(files))
    STATUS = "compiled"
    return STATUS


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules (and mypyc's shared library for them) by name."""

    def __init__(self, files: dict[str, Path]):
        self.files = files

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 (the import system's signature)
        file = self.files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


def _current_build() -> dict[str, Path] | str:
    """The compiled files by module name, or why they cannot be used."""
    try:
        manifest = json.loads((TARGET / MANIFEST).read_text())
    except FileNotFoundError:
        return "not compiled: run scripts/setup"
    except (OSError, ValueError):
        return "unreadable build manifest"
    if manifest.get("abi") != _abi():
        return "compiled for another Python"
    if manifest.get("sources") != _source_hashes():
        return "sources changed since the build: run scripts/setup"
    files = {name: TARGET / relative for name, relative in manifest.get("files", {}).items()}
    if not all(file.is_file() for file in files.values()):
        return "compiled files missing: run scripts/setup"
    return files


def _abi() -> str:
    return f"{sys.implementation.cache_tag}-{sysconfig.get_config_var('EXT_SUFFIX')}"


def _source_hashes() -> dict[str, str]:
    return {name: hashlib.sha256((SOURCE_DIR / f"{name}.py").read_bytes()).hexdigest() for name in MODULES}


def build(target: Path = TARGET) -> str:
    """Compile MODULES into `target` unless a current build is there; returns what was done.
    Raises RuntimeError with mypyc's last line when the compile fails."""
    if target == TARGET and not isinstance(_current_build(), str):
        return f"compiled modules up to date in {target}"
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        return "no C compiler found: the chunker runs as plain Python"
    with tempfile.TemporaryDirectory(prefix="gitlm-native-") as work:
        tree = Path(work)
        # the whole package (mypy reads what the modules import), sources only
        shutil.copytree(SOURCE_DIR.parent, tree / "gitlm", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        paths = [f"gitlm/chunk/{name}.py" for name in MODULES]
        # mypy reads only this copy: a checkout on PYTHONPATH would be a second gitlm to it
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MYPYPATH")}
        proc = subprocess.run([sys.executable, "-m", "mypyc", "--ignore-missing-imports", *paths],
                              cwd=tree, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
            errors = [line for line in lines if "error" in line.lower()] or lines or ["no message"]
            raise RuntimeError(f"mypyc failed: {errors[-1].strip()}")
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        files = {f"{PACKAGE}.{name}": Path("gitlm", "chunk", f"{name}{suffix}") for name in MODULES}
        files.update({path.name[: -len(suffix)]: Path(path.name) for path in tree.glob(f"*__mypyc{suffix}")})
        staging = target.with_name(target.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        for relative in files.values():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tree / relative, staging / relative)
        manifest = {"abi": _abi(), "sources": _source_hashes(),
                    "files": {name: str(relative) for name, relative in files.items()}}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return f"compiled {len(MODULES)} modules into {target}"


def main(argv: list[str]) -> int:
    """`build`: compile, or say why not (exit 0: gitlm works either way). `build --strict`
    (the test command's): exit 1 when a C compiler is there and the compile fails, so a
    source edit mypyc rejects cannot pass CI unnoticed in plain Python."""
    if not argv or argv[0] != "build" or any(arg != "--strict" for arg in argv[1:]):
        print("usage: python -m gitlm.native build [--strict]", file=sys.stderr)
        return 2
    try:
        print(build())
    except RuntimeError as exc:
        if "--strict" in argv:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"warning: {exc}; the chunker runs as plain Python", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
