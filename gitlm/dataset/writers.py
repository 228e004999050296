"""Writers for one split's examples: parquet (always), JSON and torch .pt (on request).

The parquet files are what `datasets.load_dataset("parquet", data_files=...)` loads; ids
are int32 lists, masks int8 lists (1 = real id). Rows are written in groups as windows are
built, so memory stays at one group whatever the dataset's size — except for .pt, whose
tensors hold the whole split (a torch file is loaded whole anyway).
"""

from __future__ import annotations

from typing import IO, Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gitlm.dataset.windows import Example

ROW_GROUP = 512

SCHEMA = pa.schema([
    ("context_ids", pa.list_(pa.int32())),
    ("target_ids", pa.list_(pa.int32())),
    ("context_mask", pa.list_(pa.int8())),
    ("target_mask", pa.list_(pa.int8())),
    ("commit_hash", pa.string()),  # the document of the first target id
    ("commit_number", pa.int64()),
    ("timestamp", pa.int64()),  # that document's time (unix seconds)
    ("first_timestamp", pa.int64()),  # oldest document in the window
    ("last_timestamp", pa.int64()),  # newest document in the window
    ("start", pa.int64()),  # the window's position in its split's token stream
])


def masks(width: int, lengths: list[int], left: bool) -> np.ndarray:
    """1 for real ids: the last `length` positions (left padding) or the first (right padding)."""
    positions = np.arange(width)
    lengths_column = np.asarray(lengths)[:, None]
    return (positions >= width - lengths_column if left else positions < lengths_column).astype(np.int8)


def _list_array(matrix: np.ndarray, value_type: pa.DataType) -> pa.Array:
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1), type=value_type))


class SplitWriter:
    """Collects a split's examples into row groups and hands them to every output."""

    def __init__(self, parquet: IO[bytes], context_window: int, target_window: int,
                 json_out: IO[bytes] | None = None, tensors: dict[str, Any] | None = None, split: str = ""):
        self.parquet = pq.ParquetWriter(parquet, SCHEMA, compression="zstd")
        self.context_window = context_window
        self.target_window = target_window
        self.json_out = json_out
        self.tensors = tensors  # preallocated torch tensors, filled row by row
        self.pending: list[Example] = []
        self.examples = 0
        self.real_context = 0
        self.real_target = 0
        if json_out is not None:
            header = {"split": split, "context_window": context_window, "target_window": target_window}
            json_out.write(msgspec.json.encode(header)[:-1] + b',"examples":[')

    def add(self, example: Example) -> None:
        self.pending.append(example)
        if len(self.pending) >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        group = self.pending
        contexts = np.stack([e.context for e in group]).astype(np.int32)
        targets = np.stack([e.target for e in group]).astype(np.int32)
        context_lengths = [e.context_length for e in group]
        target_lengths = [e.target_length for e in group]
        context_masks = masks(self.context_window, context_lengths, left=True)
        target_masks = masks(self.target_window, target_lengths, left=False)
        table = pa.table({
            "context_ids": _list_array(contexts, pa.int32()),
            "target_ids": _list_array(targets, pa.int32()),
            "context_mask": _list_array(context_masks, pa.int8()),
            "target_mask": _list_array(target_masks, pa.int8()),
            "commit_hash": [e.commit_hash for e in group],
            "commit_number": [e.commit_number for e in group],
            "timestamp": [e.timestamp for e in group],
            "first_timestamp": [e.first_timestamp for e in group],
            "last_timestamp": [e.last_timestamp for e in group],
            "start": [e.start for e in group],
        }, schema=SCHEMA)
        self.parquet.write_table(table, row_group_size=len(group))
        if self.json_out is not None:
            for row, example in enumerate(group):
                record = {
                    "context": contexts[row].tolist(), "target": targets[row].tolist(),
                    "context_mask": context_masks[row].tolist(), "target_mask": target_masks[row].tolist(),
                    "commit_hash": example.commit_hash, "timestamp": example.timestamp,
                }
                self.json_out.write((b"," if self.examples + row else b"") + msgspec.json.encode(record))
        if self.tensors is not None:
            import torch

            rows = slice(self.examples, self.examples + len(group))
            self.tensors["contexts"][rows] = torch.from_numpy(contexts)
            self.tensors["targets"][rows] = torch.from_numpy(targets)
            self.tensors["context_masks"][rows] = torch.from_numpy(context_masks)
            self.tensors["target_masks"][rows] = torch.from_numpy(target_masks)
        self.examples += len(group)
        self.real_context += sum(context_lengths)
        self.real_target += sum(target_lengths)
        self.pending = []

    def close(self) -> None:
        self.flush()
        self.parquet.close()
        if self.json_out is not None:
            self.json_out.write(b"]}\n")


def allocate_tensors(examples: int, context_window: int, target_window: int) -> dict[str, Any]:
    """The .pt export's tensors: ids int32, masks int8 (1 = real id)."""
    import torch

    return {
        "contexts": torch.zeros((examples, context_window), dtype=torch.int32),
        "targets": torch.zeros((examples, target_window), dtype=torch.int32),
        "context_masks": torch.zeros((examples, context_window), dtype=torch.int8),
        "target_masks": torch.zeros((examples, target_window), dtype=torch.int8),
    }
