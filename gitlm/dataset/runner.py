"""Phase 4: tokens/ -> dataset/{train,val,test}.parquet (+ exports), recorded in MANIFEST.json.

Reads the packed token stream back in its chronological order (tokens/documents.parquet
says where each document's ids are), splits the documents by time with the dataset's own
percentages (the same rule as `gitlm tokenize`: no shuffling, every val/test document
strictly newer than every train document), and cuts each split's stream into
context/target windows. A window never crosses a split boundary because each split is
windowed on its own.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from gitlm.config import GitlmConfig
from gitlm.dataset.windows import WindowBuilder, window_count
from gitlm.dataset.writers import SplitWriter, allocate_tensors
from gitlm.errors import BadInputError, GitlmError
from gitlm.tokenize.split import SPLITS, TemporalSplit, iso
from gitlm.workspace import PhaseTimer, Workspace, fingerprint, library_versions

DATASET_DIR = "dataset"
STATS = "dataset/dataset_stats.json"
TOKENS_META = "tokens/meta.json"
DOCUMENT_INDEX = "tokens/documents.parquet"


@dataclass
class DatasetStats:
    examples: int = 0
    context_window: int = 0
    target_window: int = 0
    stride: int = 0
    split: list[int] = field(default_factory=list)
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_cuts: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_tokens_meta(workspace: Workspace) -> dict[str, Any]:
    path = workspace.path(TOKENS_META)
    if not path.is_file() or not workspace.path(DOCUMENT_INDEX).is_file():
        raise BadInputError(f"{path} does not exist; run `gitlm tokenize` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GitlmError(f"{path} is corrupt ({exc}); re-run `gitlm tokenize`") from None


def _token_arrays(workspace: Workspace, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    arrays = {}
    for name in SPLITS:
        path = workspace.path(f"tokens/{meta['splits'][name]['file']}")
        size = path.stat().st_size if path.is_file() else -1
        expected = meta["splits"][name]["tokens"] * np.dtype(meta["dtype"]).itemsize
        if size != expected:
            raise GitlmError(f"{path} does not match tokens/meta.json ({size} bytes, expected {expected}); re-run `gitlm tokenize`")
        arrays[name] = np.memmap(path, dtype=meta["dtype"], mode="r") if size else np.zeros(0, dtype=meta["dtype"])
    return arrays


def build_dataset(workspace: Workspace, config: GitlmConfig | None = None) -> DatasetStats:
    """Write dataset/{train,val,test}.parquet, dataset_stats.json and the requested exports."""
    config = config or GitlmConfig()
    cfg = config.dataset
    meta = _read_tokens_meta(workspace)
    stats = DatasetStats(context_window=cfg.context_window, target_window=cfg.target_window, stride=cfg.stride,
                         split=list(cfg.split))
    stats.source = {"strategy": meta["strategy"], "tokenizer": meta["tokenizer"], "vocab_size": meta["vocab_size"],
                    "pad_token_id": meta["pad_token_id"], "eos_token_id": meta["eos_token_id"]}
    with workspace.lock():
        timer = PhaseTimer()
        index = pq.ParquetFile(workspace.path(DOCUMENT_INDEX))
        timestamps = index.read(columns=["timestamp"]).column("timestamp").to_numpy()
        splitter = TemporalSplit.from_timestamps(timestamps, cfg.split)
        stats.split_cuts = splitter.as_dict()
        tokens = _token_arrays(workspace, meta)

        # Each dataset split's stream length, to size the .pt tensors before filling them.
        lengths = dict.fromkeys(SPLITS, 0)
        documents = dict.fromkeys(SPLITS, 0)
        dates: dict[str, list[int]] = {}
        for batch in index.iter_batches(columns=["timestamp", "tokens"]):
            for timestamp, count in zip(batch.column("timestamp").to_pylist(), batch.column("tokens").to_pylist()):
                name = SPLITS[splitter.assign(timestamp)]
                lengths[name] += count + 1
                documents[name] += 1
                span = dates.setdefault(name, [timestamp, timestamp])
                span[0], span[1] = min(span[0], timestamp), max(span[1], timestamp)

        outputs = [f"{DATASET_DIR}/{name}.parquet" for name in SPLITS]
        with contextlib.ExitStack() as stack:
            writers: dict[str, SplitWriter] = {}
            builders: dict[str, WindowBuilder] = {}
            tensors: dict[str, Any] = {}
            for name in SPLITS:
                parquet = stack.enter_context(workspace.atomic_writer(f"{DATASET_DIR}/{name}.parquet"))
                json_out = None
                if cfg.export_json:
                    json_out = stack.enter_context(workspace.atomic_writer(f"{DATASET_DIR}/training_data_{name}.json"))
                    outputs.append(f"{DATASET_DIR}/training_data_{name}.json")
                if cfg.export_pt:
                    tensors[name] = allocate_tensors(window_count(lengths[name], cfg.context_window, cfg.stride),
                                                     cfg.context_window, cfg.target_window)
                writers[name] = SplitWriter(parquet, cfg.context_window, cfg.target_window, json_out, tensors.get(name), name)
                builders[name] = WindowBuilder(cfg.context_window, cfg.target_window, cfg.stride, meta["pad_token_id"])

            for batch in index.iter_batches(columns=["split", "offset", "tokens", "commit_hash", "commit_number", "timestamp"]):
                columns = batch.to_pydict()
                for source, offset, count, commit_hash, commit_number, timestamp in zip(
                    columns["split"], columns["offset"], columns["tokens"], columns["commit_hash"],
                    columns["commit_number"], columns["timestamp"],
                ):
                    name = SPLITS[splitter.assign(timestamp)]
                    ids = np.asarray(tokens[source][offset:offset + count + 1])
                    for example in builders[name].feed(ids, commit_hash, commit_number, timestamp):
                        writers[name].add(example)
            for name in SPLITS:
                for example in builders[name].finish():
                    writers[name].add(example)
                writers[name].close()

        if cfg.export_pt:
            import torch

            for name in SPLITS:
                with workspace.atomic_writer(f"{DATASET_DIR}/training_data_{name}.pt") as handle:
                    torch.save(tensors[name], handle)
                outputs.append(f"{DATASET_DIR}/training_data_{name}.pt")

        for name in SPLITS:
            writer = writers[name]
            span = dates.get(name)
            stats.splits[name] = {
                "examples": writer.examples,
                "documents": documents[name],
                "tokens": lengths[name],
                "context_tokens": writer.real_context,
                "target_tokens": writer.real_target,
                "padding_tokens": writer.examples * (cfg.context_window + cfg.target_window) - writer.real_context - writer.real_target,
                "first_timestamp": span[0] if span else None,
                "last_timestamp": span[1] if span else None,
                "first_date": iso(span[0]) if span else None,
                "last_date": iso(span[1]) if span else None,
            }
        stats.examples = sum(s["examples"] for s in stats.splits.values())
        workspace.write_json(STATS, stats.as_dict())
        outputs.append(STATS)
        tokenize_phase = workspace.read_manifest()["phases"].get("tokenize", {})
        result = {
            "status": "completed",
            **timer.finish(),
            "outputs": outputs,
            "stats": stats.as_dict(),
            "config": cfg.model_dump(mode="json"),
            "fingerprint": fingerprint(tokenize_phase.get("fingerprint"), cfg.model_dump(mode="json"), meta["total_tokens"]),
            "error": None,
        }
        manifest = workspace.read_manifest()
        versions = dict(manifest.get("versions") or {}) | library_versions("pyarrow", "datasets")
        workspace.record_phase("dataset", result, versions=versions)
    return stats


__all__ = ["DatasetStats", "build_dataset"]
