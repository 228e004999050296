"""Secrets planted in a history reach no output of any phase: workspace files, the Qdrant
payloads, the decoded token sequences, the dataset. Phases not built yet are skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.privacy_fixtures import build_secret_history, files_containing, leak_needles


def gitlm(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, env=env)


def registered() -> set[str]:
    from gitlm.commands import app

    return {c.name or c.callback.__name__ for c in app.registered_commands}


PHASES = ["chunk", "tokenize", "dataset", "embed"]


def _leaked(text: str) -> list[str]:
    return [needle for needle in leak_needles() if needle in text]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """The leaky history through every registered phase, with default settings."""
    from tests.gitrepo import GitRepo, git_test_env

    root = tmp_path_factory.mktemp("pipeline")
    (root / "home").mkdir()
    env = git_test_env(root / "home")
    repo = build_secret_history(lambda name: GitRepo(root / name, env))
    for i in range(12):  # enough documents for the temporal splits of tokenize/dataset
        repo.write(f"app/feature{i % 3}.py", "".join(f"def step{j}(x):\n    return x + {i * j}\n\n" for j in range(i % 4 + 1)))
        repo.commit(f"feat: feature step {i}")
    ws = root / "ws"
    runs = {"scrape": gitlm("scrape", str(repo.path), "--out", str(ws), "--json", "--stats", "--verbose")}
    for phase in PHASES:
        if phase in registered():
            runs[phase] = gitlm(phase, "--workspace", str(ws))
    return repo, ws, runs


def test_every_phase_ran_and_printed_no_secret(pipeline):
    _, _, runs = pipeline
    assert {name: run.returncode for name, run in runs.items()} == {name: 0 for name in runs}, \
        {name: run.stderr[-500:] for name, run in runs.items() if run.returncode}
    assert _leaked("".join(run.stdout + run.stderr for run in runs.values())) == []


def test_no_workspace_file_holds_a_secret(pipeline):
    _, ws, _ = pipeline
    assert sum(1 for p in ws.rglob("*") if p.is_file()) > 2
    assert files_containing(ws, leak_needles()) == {}


def test_chunks_are_redacted(pipeline):
    _, ws, _ = pipeline
    if "chunk" not in registered():
        pytest.skip("no chunk phase yet")
    text = (ws / "chunks.jsonl").read_text()
    assert _leaked(text) == []
    assert "<SECRET:aws_access_key>" in text and "<SECRET:private_key>" in text


def _tokenizer(ws: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(ws / "tokenizer" / "tokenizer.json"))


def test_decoded_token_sequences_hold_no_secret(pipeline):
    _, ws, _ = pipeline
    if "tokenize" not in registered():
        pytest.skip("no tokenize phase yet")
    meta = json.loads((ws / "tokens" / "meta.json").read_text())
    tokenizer = _tokenizer(ws)
    decoded = []
    for split in meta["splits"].values():
        ids = np.fromfile(ws / "tokens" / split["file"], dtype=meta["dtype"])
        decoded.append(tokenizer.decode(ids.tolist(), skip_special_tokens=False))
    text = "\n".join(decoded)
    assert len(text) > 1000
    assert _leaked(text) == []
    assert "<SECRET:" in text, "the placeholders are what the model learns instead"


def test_dataset_holds_no_secret(pipeline):
    _, ws, _ = pipeline
    if "dataset" not in registered():
        pytest.skip("no dataset phase yet")
    import pyarrow.parquet as pq

    tokenizer = _tokenizer(ws)
    files = sorted((ws / "dataset").rglob("*.parquet"))
    assert files
    decoded = []
    for path in files:
        table = pq.read_table(path)
        for column in ("context_ids", "target_ids"):
            if column in table.column_names:
                for ids in table.column(column).to_pylist():
                    decoded.append(tokenizer.decode(ids, skip_special_tokens=False))
    assert _leaked("\n".join(decoded)) == []


def test_qdrant_payloads_hold_no_secret(pipeline):
    _, ws, _ = pipeline
    if "embed" not in registered():
        pytest.skip("no embed phase yet")
    from gitlm.embed.store.edge import EdgeStore

    payloads = []
    with EdgeStore(ws / "index") as store:
        for kind in ("commits", "chunks"):
            if store.meta(kind) is None:
                continue
            ids = list(store.iter_ids(kind))
            payloads += [point.payload for point in store.retrieve(kind, ids, with_vectors=False)]
    assert payloads
    text = json.dumps(payloads, ensure_ascii=False)
    assert _leaked(text) == []
    assert "<SECRET:" in text


def test_keep_secrets_at_scrape_is_still_redacted_by_later_phases(make_repo, tmp_path):
    """A workspace scraped with --keep-secrets holds secrets in commits.jsonl (the user's
    choice); a later phase run with redaction on still keeps them out of its own output."""
    phases = [p for p in ("chunk", "tokenize", "embed") if p in registered()]
    if not phases:
        pytest.skip("no later phase yet")
    repo = build_secret_history(make_repo)
    for i in range(12):
        repo.write(f"app/feature{i % 3}.py", f"def step(x):\n    return x + {i}\n")
        repo.commit(f"feat: feature step {i}")
    ws = tmp_path / "ws"
    assert gitlm("scrape", str(repo.path), "--out", str(ws), "--keep-secrets").returncode == 0
    assert _leaked((ws / "commits.jsonl").read_text())
    for phase in phases:
        proc = gitlm(phase, "--workspace", str(ws))
        assert proc.returncode == 0, (phase, proc.stderr)
    leaks = files_containing(ws, leak_needles())
    assert {path for paths in leaks.values() for path in paths} == {"commits.jsonl"}  # the scrape's own output only
