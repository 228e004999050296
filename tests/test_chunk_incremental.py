"""Incremental chunking: after new commits, only they are chunked, and chunks.jsonl is what a
full run writes (co-change history replayed from the kept commits)."""

from __future__ import annotations

import json

import pytest

from gitlm.chunk import chunk_workspace
from gitlm.config import GitlmConfig
from gitlm.scrape import scrape_to_workspace
from tests.chunk_histories import build_project


def _phase(ws):
    return json.loads((ws / "MANIFEST.json").read_text())["phases"]["chunk"]


@pytest.mark.parametrize("workers", [1, 2])
def test_new_commits_only_and_same_output_as_a_full_run(make_repo, tmp_path, workers):
    repo, _ = build_project(make_repo)
    head = repo.head()
    repo.git("reset", "-q", "--hard", "HEAD~3")
    ws, full_ws = tmp_path / "ws", tmp_path / "full"
    config = GitlmConfig(out=ws, chunk={"workers": workers})
    scrape_to_workspace(repo.path, config, incremental=True)
    first = chunk_workspace(ws, config, incremental=True)
    assert _phase(ws)["mode"] == "full" and _phase(ws)["commits_covered"] == 7

    repo.git("reset", "-q", "--hard", head)  # three new commits on top
    scrape_to_workspace(repo.path, config, incremental=True)
    again = chunk_workspace(ws, config, incremental=True)
    phase = _phase(ws)
    assert (phase["mode"], phase["commits_kept"], phase["commits_covered"], phase["last_commit"]) == ("incremental", 7, 10, head)
    assert again.commits == 3
    assert phase["total_chunks"] == first.chunks + again.chunks

    full_config = GitlmConfig(out=full_ws, chunk={"workers": workers})
    scrape_to_workspace(repo.path, full_config)
    chunk_workspace(full_ws, full_config)
    assert (ws / "chunks.jsonl").read_bytes() == (full_ws / "chunks.jsonl").read_bytes()
    # related_files of the new commits' chunks use the replayed co-change history
    assert any(json.loads(line)["related_files"] for line in (ws / "chunks.jsonl").read_text().splitlines()[-again.chunks:])

    # nothing new: nothing chunked, the file unchanged
    before = (ws / "chunks.jsonl").read_bytes()
    assert chunk_workspace(ws, config, incremental=True).commits == 0
    assert (ws / "chunks.jsonl").read_bytes() == before


def test_other_settings_or_a_new_lineage_chunk_everything(make_repo, tmp_path):
    repo, _ = build_project(make_repo)
    ws = tmp_path / "ws"
    config = GitlmConfig(out=ws, chunk={"workers": 1})
    scrape_to_workspace(repo.path, config, incremental=True)
    chunk_workspace(ws, config, incremental=True)
    other = GitlmConfig(out=ws, chunk={"workers": 1, "max_chunk_tokens": 256})
    assert chunk_workspace(ws, other, incremental=True).commits == 10 and _phase(ws)["mode"] == "full"
    scrape_to_workspace(repo.path, other)  # a full scrape: a new lineage
    assert chunk_workspace(ws, other, incremental=True).commits == 10 and _phase(ws)["mode"] == "full"
