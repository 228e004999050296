"""The gitlm command as a user runs it: a real process, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitlm.workspace import Workspace


def gitlm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture
def small_repo(make_repo):
    repo = make_repo("small")
    repo.write("src/lib.rs", "pub fn a() {}\n")
    repo.commit("feat: a")
    repo.write("src/lib.rs", "pub fn a() {}\npub fn b() {}\n")
    repo.commit("feat: b (#7)")
    repo.tag("v1")
    return repo


def test_scrape_writes_workspace(small_repo, tmp_path):
    ws = tmp_path / "ws"
    proc = gitlm("scrape", str(small_repo.path), "--out", str(ws), "--json", "--stats")
    assert proc.returncode == 0, proc.stderr
    assert "scraped 2 commits" in proc.stdout and "unique authors" in proc.stdout
    lines = [json.loads(line) for line in (ws / "commits.jsonl").read_text().splitlines()]
    assert [c["message_subject"] for c in lines] == ["feat: a", "feat: b (#7)"]
    history = json.loads((ws / "git_history.json").read_text())
    assert history["commits"] == lines and history["metadata"]["stats"]["total_commits"] == 2
    manifest = json.loads((ws / "MANIFEST.json").read_text())
    phase = manifest["phases"]["scrape"]
    assert phase["status"] == "completed" and phase["outputs"] == ["commits.jsonl", "git_history.json"]
    assert phase["stats"]["tags"] == 1 and phase["stats"]["insertions"] == 2
    assert manifest["repository"]["name"] == "small" and manifest["versions"]["gitlm"]
    assert not [p for p in ws.iterdir() if ".tmp-" in p.name], "no temp files left behind"


def test_default_workspace_is_under_cwd(small_repo, tmp_path):
    proc = gitlm("scrape", str(small_repo.path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "gitlm-out" / "small" / "commits.jsonl").exists()


def test_not_a_repository_is_one_line_exit_2(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = gitlm("scrape", str(plain))
    assert proc.returncode == 2
    assert proc.stderr == f"error: {plain} is not a git repository\n"
    proc = gitlm("scrape", str(tmp_path / "missing"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--since", "last tuesday"], "scrape.since"),
    (["--max-patch-bytes", "0"], "scrape.max_patch_bytes"),
    (["--no-such-flag"], "No such option"),
])
def test_bad_options_are_one_line_exit_2(small_repo, tmp_path, args, message):
    proc = gitlm("scrape", str(small_repo.path), "--out", str(tmp_path / "ws"), *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "ws" / "commits.jsonl").exists()


def test_config_file_and_show(small_repo, tmp_path):
    (tmp_path / "gitlm.yaml").write_text("scrape:\n  max_patch_bytes: 1234\n  branches: [main]\n")
    proc = gitlm("config", "show", cwd=tmp_path)
    assert proc.returncode == 0 and "max_patch_bytes: 1234" in proc.stdout and "- main" in proc.stdout
    (tmp_path / "gitlm.yaml").write_text("scrape:\n  max_patch_byte: 1\n")
    proc = gitlm("scrape", str(small_repo.path), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "error: gitlm.yaml: unknown key 'scrape.max_patch_byte'\n"
    (tmp_path / "gitlm.yaml").write_text("scrape: [unclosed\n")
    proc = gitlm("config", "show", cwd=tmp_path)
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr


def test_busy_workspace(small_repo, tmp_path):
    ws = Workspace(tmp_path / "ws")
    with ws.lock():
        proc = gitlm("scrape", str(small_repo.path), "--out", str(ws.root))
    assert proc.returncode == 1 and "in use by another gitlm run" in proc.stderr
    assert not ws.path("commits.jsonl").exists()


def test_help_and_version():
    assert gitlm("--version").stdout.strip().startswith("gitlm ")
    proc = gitlm()
    assert proc.returncode == 0 and "scrape" in proc.stdout
