"""The tokenizer's contract, read without torch: tokens/meta.json, the split memmaps, the
window-count rule and where a dataset split lives. Cheap on purpose, so bad input (no tokens)
is reported before the heavy imports."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from gitlm.errors import BadInputError
from gitlm.workspace import Workspace

SPLITS = ("train", "val", "test")


def read_token_meta(workspace: Workspace) -> dict[str, Any]:
    """tokens/meta.json, checked; a missing or empty token set is bad input in one line."""
    path = workspace.path("tokens/meta.json")
    if not path.is_file():
        raise BadInputError(f"no tokens in workspace {workspace.root}: tokens/meta.json is missing; run `gitlm tokenize` first")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        dtype = np.dtype(meta["dtype"])
        int(meta["sequence_length"]), int(meta["overlap"]), int(meta["eos_token_id"]), int(meta["pad_token_id"])
        splits = meta["splits"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{path} is not a valid token meta file ({exc}); re-run `gitlm tokenize`") from None
    if dtype not in (np.uint16, np.uint32):
        raise BadInputError(f"{path}: dtype {meta['dtype']} is not uint16 or uint32")
    if not splits.get("train", {}).get("tokens"):
        raise BadInputError(f"no tokens in workspace {workspace.root}: the train split is empty; run `gitlm tokenize` on a history with commits")
    return meta


def open_split(workspace: Workspace, meta: dict[str, Any], split: str) -> np.ndarray:
    """One split's ids as a read-only memmap (an empty array for an empty or absent split)."""
    info = meta["splits"].get(split) or {}
    path = workspace.path(f"tokens/{info.get('file', split + '.bin')}")
    dtype = np.dtype(meta["dtype"])
    if not info.get("tokens") or not path.is_file() or path.stat().st_size == 0:
        return np.empty(0, dtype=dtype)
    ids = np.memmap(path, dtype=dtype, mode="r")
    if len(ids) != int(info["tokens"]):
        raise BadInputError(f"{path} holds {len(ids)} tokens but meta.json says {info['tokens']}; re-run `gitlm tokenize`")
    return ids


def chronological_cut(ids: np.ndarray, eos_id: int, share: float = 0.9) -> int:
    """Where to cut `ids` so the first ~share of it is train: just after the first eos at or
    past the share point (a document boundary), else at the share point itself."""
    target = int(len(ids) * share)
    step = 1 << 20
    for start in range(target, len(ids), step):
        hits = np.flatnonzero(np.asarray(ids[start:start + step]) == eos_id)
        if len(hits):
            cut = start + int(hits[0]) + 1
            return cut if cut < len(ids) else target
    return target


def count_windows(tokens: int, sequence_length: int, overlap: int) -> int:
    """The contract's rule: max(1, ceil((tokens - overlap) / stride)) windows, 0 when empty."""
    if tokens <= 0:
        return 0
    return max(1, math.ceil((tokens - overlap) / (sequence_length - overlap)))


def dataset_splits(workspace: Workspace) -> dict[str, Path] | None:
    """dataset/{split}.parquet paths when `gitlm dataset` wrote them (train at least)."""
    paths = {split: workspace.path(f"dataset/{split}.parquet") for split in SPLITS}
    return paths if paths["train"].is_file() else None


def parquet_row_length(path: Path) -> int:
    """context + target window length of a dataset parquet (from its first row)."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_group(0, columns=["context_ids", "target_ids"]) if pq.ParquetFile(path).num_row_groups else None
    if table is None or table.num_rows == 0:
        return 0
    return len(table["context_ids"][0].as_py()) + len(table["target_ids"][0].as_py())
