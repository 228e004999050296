"""An incremental scrape writes exactly what a full scrape would, or falls back to one."""

from __future__ import annotations

import json
from pathlib import Path

from gitlm.config import GitlmConfig
from gitlm.scrape import scrape_to_workspace
from tests.histories import build_rich_history

# figures that legitimately differ between two scrapes of the same history
_TIMING = ("started_at", "finished_at", "seconds")


def _scrape(repo, out: Path, incremental: bool):
    workspace, stats = scrape_to_workspace(repo.path, GitlmConfig(out=out), incremental=incremental)
    phase = json.loads((out / "MANIFEST.json").read_text())["phases"]["scrape"]
    return (out / "commits.jsonl").read_bytes(), phase


def _same_as_full(repo, incremental_out: Path, tmp_path: Path, name: str) -> dict:
    data, phase = _scrape(repo, incremental_out, incremental=True)
    full_data, full_phase = _scrape(repo, tmp_path / name, incremental=False)
    assert data == full_data
    assert phase["stats"] == full_phase["stats"]
    assert phase["fingerprint"] == full_phase["fingerprint"]
    return phase


def test_new_commits_are_appended_exactly(make_repo, tmp_path):
    repo = build_rich_history(make_repo)
    out = tmp_path / "ws"
    first, first_phase = _scrape(repo, out, incremental=True)
    assert first_phase["mode"] == "full"
    before = first.count(b"\n")

    repo.git("checkout", "-q", "-b", "work")  # from the detached HEAD, so its commit stays reachable
    repo.write("src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n")
    repo.commit("fix: greet properly")
    repo.write("src/new.rs", "pub fn new() {}\n")
    repo.commit("feat: new module")
    repo.git("branch", "release/1.0", "HEAD~5")  # a new branch containing old commits
    repo.tag("v2.0", "HEAD~3")  # a new tag on an old commit

    phase = _same_as_full(repo, out, tmp_path, "full-1")
    assert phase["mode"] == "incremental"
    assert phase["lineage"] == first_phase["lineage"]
    assert (phase["commits_kept"], phase["commits_scraped"]) == (before, 2)
    records = [json.loads(line) for line in (out / "commits.jsonl").read_text().splitlines()]
    assert any("release/1.0" in r["branches"] for r in records[:before])
    assert any("v2.0" in r["tags"] for r in records[:before])


def test_unchanged_repository_appends_nothing(make_repo, tmp_path):
    repo = build_rich_history(make_repo)
    out = tmp_path / "ws"
    first, _ = _scrape(repo, out, incremental=True)
    phase = _same_as_full(repo, out, tmp_path, "full")
    assert phase["mode"] == "incremental" and phase["commits_scraped"] == 0
    assert (out / "commits.jsonl").read_bytes() == first


def test_rewritten_history_scrapes_again_with_a_new_lineage(make_repo, tmp_path):
    repo = make_repo("r")
    for n in range(4):
        repo.write("a.txt", f"{n}\n")
        repo.commit(f"change {n}")
    out = tmp_path / "ws"
    _, first_phase = _scrape(repo, out, incremental=True)
    repo.git("reset", "-q", "--hard", "HEAD~2")
    repo.write("a.txt", "rewritten\n")
    repo.commit("rewritten")

    phase = _same_as_full(repo, out, tmp_path, "full")
    assert phase["mode"] == "full"
    assert phase["lineage"] != first_phase["lineage"]


def test_changed_settings_scrape_everything_again(make_repo, tmp_path):
    repo = make_repo("r")
    repo.write("a.py", "x = 1\n")
    repo.commit("one")
    out = tmp_path / "ws"
    scrape_to_workspace(repo.path, GitlmConfig(out=out), incremental=True)
    config = GitlmConfig.model_validate({"out": out, "scrape": {"max_patch_bytes": 100}})
    scrape_to_workspace(repo.path, config, incremental=True)
    phase = json.loads((out / "MANIFEST.json").read_text())["phases"]["scrape"]
    assert phase["mode"] == "full"
