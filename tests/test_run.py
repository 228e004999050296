"""`gitlm run` end to end on a real fixture repository: every phase, re-runs, new commits,
a SIGKILL in the middle of a phase, and --continue-on-error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gitlm.config import GitlmConfig
from gitlm.errors import GitlmError
from gitlm.pipeline import PHASES, Pipeline
from gitlm.schema import Chunk, Commit, iter_jsonl
from tests.embed_fixtures import needs_model
from tests.trainkit import fill_repo

FAST = {
    "tokenize": {"sequence_length": 64, "overlap": 8},
    "dataset": {"context_window": 32, "target_window": 16},
    "train": {"model": "tiny", "max_steps": 3, "batch_size": 2, "workers": 0, "threads": 1, "samples": 0,
              "max_eval_batches": 2, "monitor_interval": 0.2},
}


def fast_config(out: Path, **sections) -> GitlmConfig:
    values = {name: dict(FAST.get(name, {})) | sections.get(name, {}) for name in {*FAST, *sections}}
    return GitlmConfig.model_validate({"out": str(out), **values})


def manifest(ws: Path) -> dict:
    return json.loads((ws / "MANIFEST.json").read_text())


def statuses(ws: Path) -> dict[str, tuple[str, str | None]]:
    return {name: (r["status"], r["reason"]) for name, r in manifest(ws)["phase_results"].items()}


def lines(path: Path) -> int:
    return sum(1 for _ in open(path, "rb"))


def gitlm(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, cwd=cwd, **kwargs)


@pytest.fixture
def repo(make_repo):
    repo = make_repo("project")
    fill_repo(repo, commits=30)
    return repo


@needs_model
def test_every_phase_rerun_and_new_commit(repo, tmp_path):
    ws = tmp_path / "ws"
    config = fast_config(ws)
    result = Pipeline(repo.path, config).run()
    assert [p.phase for p in result.phases] == list(PHASES)
    assert all(p.status == "completed" for p in result.phases), [(p.phase, p.error) for p in result.phases]

    # MANIFEST.json agrees with the files
    m = manifest(ws)
    for key in ("execution_timestamp", "total_execution_time_seconds", "repository_stats", "training_parameters",
                "phase_results", "training_report", "versions", "analysis"):
        assert key in m, key
    assert m["repository_stats"]["total_commits"] == lines(ws / "commits.jsonl") == 30
    assert m["analysis"]["commits"] == 30 and m["analysis"]["hardware"]["cpus"] >= 1
    for name, phase in m["phase_results"].items():
        for output in phase["outputs"]:
            assert (ws / output.rstrip("/")).exists(), (name, output)
        assert phase["output_fingerprint"] == m["phases"][name]["fingerprint"]
    chunks = list(iter_jsonl(ws / "chunks.jsonl", Chunk))
    assert m["phases"]["chunk"]["stats"]["chunks"] == len(chunks) > 0
    meta = json.loads((ws / "tokens/meta.json").read_text())
    sizes = {s: (ws / f"tokens/{s}.bin").stat().st_size // np.dtype(meta["dtype"]).itemsize for s in ("train", "val", "test")}
    assert m["phases"]["tokenize"]["stats"]["total_tokens"] == sum(sizes.values()) == meta["total_tokens"]
    assert m["training_parameters"]["epoch_formula"]["total_tokens"] == meta["total_tokens"]
    assert {"epochs", "batch_size", "learning_rate", "workers"} <= set(m["training_parameters"])
    rows = sum(pq.ParquetFile(ws / f"dataset/{s}.parquet").metadata.num_rows for s in ("train", "val", "test"))
    assert m["phase_results"]["dataset"]["stats"]["examples"] == rows
    assert m["phases"]["embed"]["stats"]["commits"]["indexed_points"] == 30
    assert m["phases"]["embed"]["stats"]["chunks"]["indexed_points"] == len(chunks)
    training = json.loads((ws / "report/training_report.json").read_text())
    assert m["training_report"]["val_perplexity"] == training["final"]["val_perplexity"]
    assert m["training_report"]["global_step"] == training["training"]["global_step"] == 3
    assert {"gitlm", "torch", "transformers", "tokenizers", "git"} <= set(m["versions"])
    assert "Phases" in (ws / "report/index.html").read_text()

    # an unchanged repository: every phase skipped, no output rewritten
    watched = ["commits.jsonl", "chunks.jsonl", "tokens/train.bin", "dataset/train.parquet",
               "model/config.json", "report/index.html"]
    before = {name: (ws / name).stat().st_mtime_ns for name in watched}
    Pipeline(repo.path, config).run()
    assert set(statuses(ws).values()) == {("skipped", "unchanged")}
    assert {name: (ws / name).stat().st_mtime_ns for name in watched} == before
    # --train skip leaves the model alone; a later default run finds it still up to date
    Pipeline(repo.path, config, train_mode="skip").run()
    assert statuses(ws)["train"] == ("skipped", "--train skip")
    Pipeline(repo.path, config).run()
    assert statuses(ws)["train"] == ("skipped", "unchanged")
    assert {name: (ws / name).stat().st_mtime_ns for name in watched} == before

    # one new commit: only it is scraped, chunked and embedded; tokens rebuilt with the same
    # tokenizer; training continues from the model
    tokenizer = (ws / "tokenizer/tokenizer.json").read_bytes()
    repo.write("src/parser.py", (repo.path / "src/parser.py").read_text() + "\ndef parser_new(x):\n    return -x\n")
    repo.commit("feat(parser): add parser_new")
    Pipeline(repo.path, config, train_mode="continue").run()
    m = manifest(ws)
    assert all(r["status"] == "completed" for r in m["phase_results"].values())
    scrape = m["phases"]["scrape"]
    assert (scrape["mode"], scrape["commits_kept"], scrape["commits_scraped"]) == ("incremental", 30, 1)
    chunk = m["phases"]["chunk"]
    assert chunk["mode"] == "incremental" and chunk["stats"]["commits"] == 1
    assert lines(ws / "chunks.jsonl") == len(chunks) + chunk["stats"]["chunks"]
    embed = m["phases"]["embed"]["stats"]
    assert embed["commits"]["encoded"] == 1 and embed["commits"]["indexed_points"] == 31
    assert embed["chunks"]["encoded"] == chunk["stats"]["chunks"]
    assert m["phases"]["tokenize"]["stats"]["tokenizer_reused"] is True
    assert (ws / "tokenizer/tokenizer.json").read_bytes() == tokenizer
    report = json.loads((ws / "report/training_report.json").read_text())
    assert report["model"]["source"].endswith(".model-base") and not (ws / ".model-base").exists()


def test_sigkill_mid_phase_then_rerun_completes(repo, tmp_path):
    ws = tmp_path / "ws"
    (tmp_path / "gitlm.yaml").write_text(json.dumps({k: v for k, v in FAST.items()}))
    args = ["run", str(repo.path), "--out", str(ws), "--skip", "embed,train", "--config", str(tmp_path / "gitlm.yaml")]
    proc = subprocess.Popen([sys.executable, "-m", "gitlm", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    killed_in = None
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        temps = [p.name for p in ws.rglob(".*.tmp-*")] if ws.is_dir() else []
        if temps:  # a phase is writing an output: kill everything, now
            os.killpg(proc.pid, signal.SIGKILL)
            killed_in = temps
            break
        time.sleep(0.002)
    proc.wait()
    assert killed_in, "the run finished before any output was being written"

    done = gitlm(*args)
    assert done.returncode == 0, done.stderr
    assert not list(ws.rglob(".*.tmp-*")) and not list(ws.rglob(".*.old-*"))
    reference = tmp_path / "reference"
    clean = gitlm("run", str(repo.path), "--out", str(reference), "--skip", "embed,train", "--config", str(tmp_path / "gitlm.yaml"))
    assert clean.returncode == 0, clean.stderr
    for name in ("commits.jsonl", "chunks.jsonl", "tokens/train.bin", "tokens/val.bin", "tokens/test.bin"):
        assert (ws / name).read_bytes() == (reference / name).read_bytes(), name
    assert len(list(iter_jsonl(ws / "commits.jsonl", Commit))) == 30


def test_continue_on_error_runs_what_does_not_need_the_failure(repo, tmp_path):
    ws = tmp_path / "ws"
    broken = fast_config(ws, tokenize={"tokenizer": str(tmp_path / "no-such-tokenizer")})
    with pytest.raises(GitlmError, match="^phase tokenize failed: tokenizer .* is not repo-bpe, gpt2 or a tokenizer directory$"):
        Pipeline(repo.path, broken, skip=["embed"]).run()
    assert statuses(ws)["tokenize"][0] == "failed" and "dataset" not in statuses(ws)

    result = Pipeline(repo.path, broken, skip=["embed"], continue_on_error=True).run()
    got = {p.phase: (p.status, p.reason) for p in result.phases}
    assert got["tokenize"][0] == "failed"
    assert got["dataset"] == ("skipped", "needs tokenize, which failed")
    assert got["train"] == ("skipped", "needs tokenize, which failed")
    assert got["scrape"] == got["chunk"] == ("skipped", "unchanged")
    assert got["report"][0] == "completed"
    assert "tokenize" in (ws / "report/index.html").read_text()

    # the command line: one clear line and exit 1 without the flag; exit 1 after the run with it
    proc = gitlm("run", str(repo.path), "--out", str(ws), "--skip", "embed", "--config", _yaml(tmp_path, broken))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: phase tokenize failed: tokenizer ")
    proc = gitlm("run", str(repo.path), "--out", str(ws), "--skip", "embed", "--continue-on-error", "--config", _yaml(tmp_path, broken))
    assert proc.returncode == 1 and "needs tokenize, which failed" in proc.stdout


def test_phase_selection_and_bad_names(repo, tmp_path):
    ws = tmp_path / "ws"
    result = Pipeline(repo.path, fast_config(ws), only=["scrape,chunk"]).run()
    assert [p.phase for p in result.phases] == ["scrape", "chunk"]
    proc = gitlm("run", str(repo.path), "--out", str(ws), "--only", "scrap")
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown phase 'scrap'; phases are analyze, scrape")
    proc = gitlm("run", str(repo.path), "--out", str(ws), "--train", "sometimes")
    assert proc.returncode == 2 and "--train must be one of fresh, continue, skip" in proc.stderr
    proc = gitlm("run", str(tmp_path / "nowhere"), "--out", str(ws))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    empty = tmp_path / "empty"
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    proc = gitlm("run", str(empty), "--out", str(tmp_path / "ws-empty"))
    assert proc.returncode == 2 and proc.stderr == f"error: {empty} has no commits yet (no branch, tag or HEAD points at one); nothing to run\n"


def _yaml(tmp_path: Path, config: GitlmConfig) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text(json.dumps(config.model_dump(mode="json", exclude={"out"})))
    return str(path)
