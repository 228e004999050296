"""A repository whose config and attributes try to run commands: gitlm runs none of them
and writes nothing into the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOSTILE_KEYS = {
    "core.fsmonitor": "fsmonitor",
    "core.pager": "pager",
    "diff.external": "external-diff",
    "diff.evil.textconv": "textconv",
    "diff.evil.command": "diff-driver",
    "filter.evil.clean": "filter-clean",
    "filter.evil.smudge": "filter-smudge",
    "filter.evil.process": "filter-process",
    "gpg.program": "gpg",
    "core.sshCommand": "ssh",
    "core.askPass": "askpass",
    "credential.helper": "credential",
}


def _snapshot(git_dir: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(git_dir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(git_dir.rglob("*")) if p.is_file()}


@pytest.fixture
def hostile(make_repo, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = make_repo("hostile")
    repo.write(".gitattributes", "*.txt diff=evil filter=evil\n")
    repo.write("a.txt", "one\n")
    repo.commit("first")
    repo.write("a.txt", "two\n")
    repo.commit("second")
    hooks = repo.path / "evil-hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-commit", "reference-transaction", "pre-auto-gc", "post-index-change"):
        script = hooks / hook
        script.write_text(f"#!/bin/sh\ntouch {markers}/hook-{hook}\n")
        script.chmod(0o755)
    repo.git("config", "core.hooksPath", str(hooks))
    for key, name in HOSTILE_KEYS.items():
        repo.git("config", key, f"sh -c 'touch {markers}/{name}; cat'")
    repo.git("config", "log.showSignature", "true")
    repo.git("config", "diff.noprefix", "true")
    repo.git("config", "diff.orderFile", str(repo.path / "a.txt"))
    return repo, markers


def test_the_fixture_is_really_hostile(hostile):
    """Plain git in this repository does run the planted commands (so the test can fail)."""
    repo, markers = hostile
    repo.git("log", "-p", "-1")
    assert (markers / "textconv").exists()


def test_scrape_runs_nothing_and_writes_nothing(hostile, tmp_path):
    repo, markers = hostile
    before = _snapshot(repo.path / ".git")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "gitlm", "scrape", str(repo.path), "--out", str(tmp_path / "ws"), "--json", "--stats"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in markers.iterdir()) == []
    assert _snapshot(repo.path / ".git") == before
    lines = (tmp_path / "ws" / "commits.jsonl").read_text().splitlines()
    assert len(lines) == 2
    # the repository's diff.noprefix could not change the patch format we parse
    assert '"patch":"diff --git a/a.txt b/a.txt' in lines[1]
