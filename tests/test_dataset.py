"""gitlm dataset: chronological windows, temporal split, parquet that `datasets` loads, exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from gitlm.dataset import WindowBuilder, build_dataset, window_count
from gitlm.tokenize import tokenize_workspace
from gitlm.tokenize.split import TemporalSplit
from gitlm.workspace import Workspace
from tests.gitrepo import GitRepo, git_test_env
from tests.tokenize_fixtures import build_tokenize_history, commit_time, config, copy_workspace, scraped_workspace

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory):
    """The fixture history scraped and tokenized once (semantic, repo-bpe, no dedup)."""
    root = tmp_path_factory.mktemp("dataset")
    home = root / "home"
    home.mkdir()
    repo = build_tokenize_history(lambda name="repo", **kw: GitRepo(root / name, git_test_env(home), **kw))
    workspace = scraped_workspace(repo, root / "ws")
    tokenize_workspace(workspace, config(tokenize={"strategy": "semantic"}))
    return workspace


@pytest.fixture
def workspace(tokenized, tmp_path) -> Workspace:
    return copy_workspace(tokenized, tmp_path / "ws")


def stream_of(workspace: Workspace, percentages) -> dict[str, tuple[np.ndarray, list[dict]]]:
    """Each dataset split's token stream rebuilt independently from tokens/ (the reference)."""
    meta = json.loads(workspace.path("tokens/meta.json").read_text())
    rows = pq.read_table(workspace.path("tokens/documents.parquet")).to_pylist()
    splitter = TemporalSplit.from_timestamps(np.array([r["timestamp"] for r in rows]), percentages)
    ids = {name: np.fromfile(workspace.path(f"tokens/{name}.bin"), dtype=meta["dtype"]) for name in SPLITS}
    streams: dict[str, list] = {name: [] for name in SPLITS}
    documents: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for row in rows:
        name = SPLITS[splitter.assign(row["timestamp"])]
        streams[name].extend(ids[row["split"]][row["offset"]:row["offset"] + row["tokens"] + 1].tolist())
        documents[name].append(row)
    return {name: (np.array(streams[name], dtype=np.int64), documents[name]) for name in SPLITS}


def test_windows_are_exact_slices_of_each_split_stream(workspace):
    stats = build_dataset(workspace, config(dataset={"context_window": 48, "target_window": 16, "stride": 20}))
    meta = json.loads(workspace.path("tokens/meta.json").read_text())
    pad = meta["pad_token_id"]
    reference = stream_of(workspace, [70, 15, 15])
    for name in SPLITS:
        stream, documents = reference[name]
        table = pq.read_table(workspace.path(f"dataset/{name}.parquet")).to_pylist()
        assert len(table) == stats.splits[name]["examples"] == window_count(len(stream), 48, 20) > 0
        assert stats.splits[name]["tokens"] == len(stream)
        for k, row in enumerate(table):
            start = k * 20
            assert row["start"] == start
            assert row["context_ids"] == stream[start:start + 48].tolist() and row["context_mask"] == [1] * 48
            real = stream[start + 48:start + 64].tolist()
            assert row["target_ids"] == real + [pad] * (16 - len(real))
            assert row["target_mask"] == [1] * len(real) + [0] * (16 - len(real))
        # every id after the first context window is a target of some window (stride 20 > 16 aside)
        last = table[-1]
        assert last["start"] + 48 < len(stream) <= last["start"] + 20 + 48
        # the commit columns name the document of the first target id
        for row in table:
            position = row["start"] + 48
            offset = 0
            for document in documents:
                if offset <= position < offset + document["tokens"] + 1:
                    assert (row["commit_hash"], row["timestamp"]) == (document["commit_hash"], document["timestamp"])
                    break
                offset += document["tokens"] + 1


def test_temporal_split_every_val_and_test_example_is_newer(workspace):
    stats = build_dataset(workspace, config(dataset={"context_window": 32, "target_window": 8, "stride": 8}))
    tables = {name: pq.read_table(workspace.path(f"dataset/{name}.parquet")).to_pydict() for name in SPLITS}
    assert max(tables["train"]["last_timestamp"]) < min(tables["val"]["first_timestamp"])
    assert max(tables["val"]["last_timestamp"]) < min(tables["test"]["first_timestamp"])
    # 20 commits one hour apart: train 1..14, val 15..17, test 18..20
    assert (stats.splits["train"]["first_timestamp"], stats.splits["train"]["last_timestamp"]) == (commit_time(1), commit_time(14))
    assert (stats.splits["val"]["first_timestamp"], stats.splits["val"]["last_timestamp"]) == (commit_time(15), commit_time(17))
    assert (stats.splits["test"]["first_timestamp"], stats.splits["test"]["last_timestamp"]) == (commit_time(18), commit_time(20))
    assert [stats.splits[n]["documents"] for n in SPLITS] == [14, 3, 3]
    # chronological inside each split too: no shuffling
    for name in SPLITS:
        assert tables[name]["start"] == sorted(tables[name]["start"])
        assert tables[name]["timestamp"] == sorted(tables[name]["timestamp"])


def test_dataset_split_can_differ_from_the_token_split(workspace):
    stats = build_dataset(workspace, config(dataset={"split": "50/25/25", "context_window": 16, "target_window": 4, "stride": 16}))
    assert [stats.splits[n]["documents"] for n in SPLITS] == [10, 5, 5]
    reference = stream_of(workspace, [50, 25, 25])
    assert [stats.splits[n]["tokens"] for n in SPLITS] == [len(reference[n][0]) for n in SPLITS]


def test_parquet_loads_with_datasets_offline(workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    stats = build_dataset(workspace, config(dataset={"context_window": 32, "target_window": 8, "stride": 16}))
    import datasets

    files = {name: str(workspace.path(f"dataset/{name}.parquet")) for name in SPLITS}
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "cache"))
    assert {name: loaded[name].num_rows for name in SPLITS} == {n: stats.splits[n]["examples"] for n in SPLITS}
    row = loaded["train"][0]
    assert len(row["context_ids"]) == 32 and len(row["target_ids"]) == 8 and set(row["context_mask"]) == {1}
    assert loaded["train"].features["context_ids"].feature.dtype == "int32"


def test_json_and_pt_exports_match_the_parquet(workspace):
    build_dataset(workspace, config(dataset={"context_window": 40, "target_window": 12, "stride": 24,
                                             "export_json": True, "export_pt": True}))
    import torch

    for name in SPLITS:
        table = pq.read_table(workspace.path(f"dataset/{name}.parquet")).to_pydict()
        exported = json.loads(workspace.path(f"dataset/training_data_{name}.json").read_text())
        assert exported["split"] == name and len(exported["examples"]) == len(table["context_ids"])
        assert [e["context"] for e in exported["examples"]] == table["context_ids"]
        assert [e["target_mask"] for e in exported["examples"]] == table["target_mask"]
        tensors = torch.load(workspace.path(f"dataset/training_data_{name}.pt"))
        assert set(tensors) == {"contexts", "targets", "context_masks", "target_masks"}
        assert tensors["contexts"].dtype == torch.int32 and tensors["context_masks"].dtype == torch.int8
        assert tensors["contexts"].tolist() == table["context_ids"] and tensors["targets"].tolist() == table["target_ids"]
        assert tensors["target_masks"].tolist() == table["target_mask"]


def test_dataset_stats_and_manifest(workspace):
    stats = build_dataset(workspace, config(dataset={"context_window": 32, "target_window": 8, "stride": 16}))
    saved = json.loads(workspace.path("dataset/dataset_stats.json").read_text())
    assert saved == json.loads(json.dumps(stats.as_dict()))
    assert saved["splits"]["val"]["first_date"] == "2023-11-15T13:13:20+00:00"
    for name in SPLITS:
        split = saved["splits"][name]
        assert split["padding_tokens"] == split["examples"] * 40 - split["context_tokens"] - split["target_tokens"]
    manifest = json.loads(workspace.path("MANIFEST.json").read_text())
    assert manifest["phases"]["dataset"]["status"] == "completed"
    assert manifest["phases"]["dataset"]["stats"]["examples"] == stats.examples
    assert "dataset/train.parquet" in manifest["phases"]["dataset"]["outputs"]


def test_window_builder_end_of_stream_and_short_splits():
    builder = WindowBuilder(8, 4, 4, pad_id=-1)
    ids = np.arange(1, 41)
    examples = []
    for start, stop, stamp in ((0, 10, 100), (10, 25, 200), (25, 40, 300)):
        examples += list(builder.feed(ids[start:stop], f"c{stamp}", stamp, stamp))
    examples += list(builder.finish())
    assert [e.start for e in examples] == [0, 4, 8, 12, 16, 20, 24, 28] and window_count(40, 8, 4) == 8
    assert examples[-1].target.tolist() == [37, 38, 39, 40] and examples[-1].target_length == 4
    assert (examples[1].commit_hash, examples[1].first_timestamp, examples[1].last_timestamp) == ("c200", 100, 200)
    # a stream with a last partial target
    tail = WindowBuilder(8, 4, 4, pad_id=0)
    out = list(tail.feed(np.arange(1, 15), "c", 1, 1)) + list(tail.finish())
    assert [(e.start, e.target.tolist(), e.target_length) for e in out] == [(0, [9, 10, 11, 12], 4), (4, [13, 14, 0, 0], 2)]
    # a split shorter than one context: one example, the context left-padded against the target
    short = WindowBuilder(8, 4, 4, pad_id=0)
    out = list(short.feed(np.array([5, 6, 7, 8, 9, 10]), "c", 1, 1)) + list(short.finish())
    assert len(out) == 1 and window_count(6, 8, 4) == 1
    assert out[0].context.tolist() == [0, 0, 0, 0, 0, 0, 5, 6] and out[0].target.tolist() == [7, 8, 9, 10]
    assert (out[0].context_length, out[0].target_length) == (2, 4)
    empty = WindowBuilder(8, 4, 4, pad_id=0)
    assert list(empty.feed(np.array([1]), "c", 1, 1)) + list(empty.finish()) == [] and window_count(1, 8, 4) == 0


def gitlm(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, env=env)


def test_command_writes_the_dataset(workspace):
    proc = gitlm("dataset", "--workspace", str(workspace.root), "--context-window", "64", "--target-window", "16",
                 "--stride", "32", "--stats")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrote ") and "train" in proc.stdout
    assert all(workspace.path(f"dataset/{name}.parquet").is_file() for name in SPLITS)


@pytest.mark.parametrize("args, message", [
    (["--split", "80/15/15"], "error: command-line option: dataset.split: must sum to 100 (80/15/15 sums to 110) (got '80/15/15')\n"),
    (["--split", "seventy"], "error: command-line option: dataset.split: must look like 70/15/15 (train/val/test percentages) (got 'seventy')\n"),
    (["--stride", "0"], "error: command-line option: dataset.stride: Input should be greater than 0 (got 0)\n"),
])
def test_bad_arguments_are_one_line_exit_2(workspace, args, message):
    proc = gitlm("dataset", "--workspace", str(workspace.root), *args)
    assert (proc.returncode, proc.stderr) == (2, message)


def test_dataset_before_tokenize_is_one_line_exit_2(tmp_path):
    (tmp_path / "ws").mkdir()
    proc = gitlm("dataset", "--workspace", str(tmp_path / "ws"))
    assert proc.returncode == 2
    assert proc.stderr == f"error: {tmp_path / 'ws' / 'tokens' / 'meta.json'} does not exist; run `gitlm tokenize` first\n"
