"""Contiguous packing: documents' ids concatenated, an end-of-document id after each, written
to flat memmap files block by block, plus an index of where each document starts.

Nothing is dropped: the token files hold every id; sequences are views over them
(sequence i = ids[i·stride : i·stride + sequence_length], stride = sequence_length − overlap),
and the last one may be shorter (padded at training time). `group_texts`-style packing
drops each batch's remainder; this does not.
"""

from __future__ import annotations

import math
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FLUSH_TOKENS = 1 << 20  # ids buffered per split before a write (4 MiB as uint32)
INDEX_ROWS = 65_536  # documents per row group of tokens/documents.parquet

DOCUMENT_INDEX_SCHEMA = pa.schema([
    ("split", pa.string()),
    ("position", pa.int64()),  # index of the document within its split
    ("doc_id", pa.string()),
    ("commit_hash", pa.string()),
    ("commit_number", pa.int64()),
    ("timestamp", pa.int64()),
    ("offset", pa.int64()),  # first id of the document in <split>.bin
    ("tokens", pa.int64()),  # ids of the document, not counting the end-of-document id after it
])


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (vocab ≤ 65,535), else uint32."""
    return np.dtype(np.uint16 if vocab_size <= 65535 else np.uint32)


def sequence_count(tokens: int, sequence_length: int, overlap: int) -> int:
    """How many sequences of `sequence_length` with `overlap` cover `tokens` ids, the last
    one possibly shorter: max(1, ceil((tokens − overlap) / stride)), 0 for no tokens."""
    if tokens <= 0:
        return 0
    stride = sequence_length - overlap
    return max(1, math.ceil((tokens - overlap) / stride))


class TokenFile:
    """One split's ids, appended in order to an open binary file."""

    def __init__(self, handle: IO[bytes], dtype: np.dtype):
        self.handle = handle
        self.dtype = dtype
        self.tokens = 0  # ids written, end-of-document ids included
        self.documents = 0
        self.first_timestamp: int | None = None
        self.last_timestamp: int | None = None
        self._pending: list[np.ndarray] = []
        self._pending_tokens = 0

    def add(self, ids: np.ndarray, eos: int, timestamp: int) -> int:
        """Append one document's ids and an end-of-document id; return the document's offset."""
        offset = self.tokens
        self._pending.append(ids)
        self._pending.append(np.array([eos], dtype=self.dtype))
        self._pending_tokens += len(ids) + 1
        self.tokens += len(ids) + 1
        self.documents += 1
        if self.first_timestamp is None or timestamp < self.first_timestamp:
            self.first_timestamp = timestamp
        if self.last_timestamp is None or timestamp > self.last_timestamp:
            self.last_timestamp = timestamp
        if self._pending_tokens >= FLUSH_TOKENS:
            self.flush()
        return offset

    def flush(self) -> None:
        if self._pending:
            np.concatenate(self._pending).astype(self.dtype, copy=False).tofile(self.handle)
            self._pending.clear()
            self._pending_tokens = 0


class DocumentIndex:
    """tokens/documents.parquet, written in row groups as documents are packed."""

    def __init__(self, handle: IO[bytes]):
        self.writer = pq.ParquetWriter(handle, DOCUMENT_INDEX_SCHEMA, compression="zstd")
        self.rows: dict[str, list[Any]] = {name: [] for name in DOCUMENT_INDEX_SCHEMA.names}

    def add(self, **row: Any) -> None:
        for name, column in self.rows.items():
            column.append(row[name])
        if len(self.rows["split"]) >= INDEX_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.rows["split"]:
            self.writer.write_table(pa.table(self.rows, schema=DOCUMENT_INDEX_SCHEMA))
            for column in self.rows.values():
                column.clear()

    def close(self) -> None:
        self.flush()
        self.writer.close()
