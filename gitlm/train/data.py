"""Training data: the workspace's token memmaps (or dataset parquet splits) as fixed-length
examples with padding masked out of the loss, and a data module whose position in an epoch
is saved in every checkpoint so `--resume` continues with the very next batch.

Layout read (the tokenizer's contract): tokens/meta.json + tokens/{train,val,test}.bin, flat
uint16/uint32 ids in chronological order with the eos token between documents; sequence i of
a split is ids[i*stride : i*stride + sequence_length]. Decisions made here:

- Overlap: consecutive windows share `overlap` tokens; in every window but the first those
  tokens are context only (label -100), so each token is predicted exactly once, with context.
- Padding: the last window of a split is right-padded; padded positions are masked by position
  (attention 0, label -100), never by id, because pad and eos may share an id.
- Split: the memmaps' temporal train/val/test split is used as is. When the val split is
  empty (a small history) the last ~10% of train is cut off at a document boundary as val: a
  chronological 90/10 split, never a shuffled one.
- Shuffling: train windows are shuffled within the train split (a seeded permutation per
  epoch); val and test keep their order.
- A pretrained model with another tokenizer: documents are decoded with the workspace
  tokenizer and re-encoded with the model's (structural markers added to it first), written
  once to <workspace>/cache/train-tokens/<key>/ and reused while inputs are unchanged.
- Dataset parquet (`gitlm dataset`): each row is context + target; the loss is on the target
  tokens only (the context conditions them), and the row is cut from the left to the model's
  context length, so the target is kept whole when it fits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler

from gitlm.errors import BadInputError
from gitlm.train.tokens import SPLITS, chronological_cut, count_windows, open_split
from gitlm.workspace import Workspace, fingerprint

IGNORE = -100


# -- token arrays (the workspace's, or re-encoded for a model's own tokenizer) -------------------


@dataclass
class TokenArrays:
    """The id arrays training reads, in the model's vocabulary."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    eos_id: int
    pad_id: int
    sequence_length: int
    overlap: int
    notes: list[str] = field(default_factory=list)


def workspace_token_arrays(workspace: Workspace, meta: dict[str, Any], sequence_length: int | None = None) -> TokenArrays:
    arrays = {split: open_split(workspace, meta, split) for split in SPLITS}
    return _with_val(TokenArrays(
        arrays["train"], arrays["val"], arrays["test"], int(meta["eos_token_id"]), int(meta["pad_token_id"]),
        min(int(meta["sequence_length"]), sequence_length or int(meta["sequence_length"])), int(meta["overlap"]),
    ))


def _with_val(arrays: TokenArrays) -> TokenArrays:
    if len(arrays.val) == 0:
        if len(arrays.train) < 4:
            raise BadInputError(f"only {len(arrays.train)} training tokens: too few to train and validate on")
        cut = chronological_cut(arrays.train, arrays.eos_id)
        arrays.val, arrays.train = arrays.train[cut:], arrays.train[:cut]
        arrays.notes.append(f"the val split was empty: the last {len(arrays.val)} train tokens (a chronological 90/10 cut) validate")
    arrays.overlap = min(arrays.overlap, arrays.sequence_length // 2)
    return arrays


# -- re-tokenizing for a pretrained model's own vocabulary --------------------------------------


def retokenized_arrays(workspace: Workspace, meta: dict[str, Any], source_tokenizer, target_tokenizer,
                       sequence_length: int) -> TokenArrays:
    """The workspace documents in the target tokenizer's ids (cached; see module docstring)."""
    key = fingerprint(
        meta, _tokenizer_fingerprint(source_tokenizer), _tokenizer_fingerprint(target_tokenizer),
        [workspace.path(f"tokens/{s}.bin").stat().st_mtime_ns if workspace.path(f"tokens/{s}.bin").exists() else 0 for s in SPLITS],
    )[:16]
    folder = workspace.path(f"cache/train-tokens/{key}")
    eos = target_tokenizer.eos_token_id
    dtype = np.uint16 if len(target_tokenizer) <= 65535 else np.uint32
    if not (folder / "done.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        counts = {}
        for split in SPLITS:
            source = open_split(workspace, meta, split)
            with Workspace(folder).atomic_writer(f"{split}.bin") as out:
                counts[split] = 0
                for ids in _retokenize_documents(source, int(meta["eos_token_id"]), source_tokenizer, target_tokenizer):
                    out.write(np.asarray(ids + [eos], dtype=dtype).tobytes())
                    counts[split] += len(ids) + 1
        Workspace(folder).write_json("done.json", {"dtype": np.dtype(dtype).name, "tokens": counts})
    done = json.loads((folder / "done.json").read_text())
    loaded = {}
    for split in SPLITS:
        path = folder / f"{split}.bin"
        loaded[split] = np.memmap(path, dtype=done["dtype"], mode="r") if done["tokens"][split] else np.empty(0, dtype=done["dtype"])
    return _with_val(TokenArrays(
        loaded["train"], loaded["val"], loaded["test"], eos, target_tokenizer.pad_token_id,
        min(int(meta["sequence_length"]), sequence_length), int(meta["overlap"]),
        notes=[f"re-tokenized with the model's tokenizer into {folder}"],
    ))


def _tokenizer_fingerprint(tokenizer) -> str:
    return fingerprint(tokenizer.backend_tokenizer.to_str())


def _retokenize_documents(ids: np.ndarray, eos_id: int, source, target, batch_tokens: int = 1 << 20) -> Iterator[list[int]]:
    """Each document of `ids` (split at eos) decoded with `source` and encoded with `target`,
    a batch of about `batch_tokens` source tokens at a time (memory stays bounded)."""
    start = 0
    while start < len(ids):
        block = np.asarray(ids[start:start + batch_tokens])
        ends = np.flatnonzero(block == eos_id)
        if start + len(block) < len(ids) and len(ends):
            block = block[: ends[-1] + 1]  # stop at the last complete document of the block
        start += len(block)
        documents = [d.tolist() for d in np.split(block, np.flatnonzero(block == eos_id) + 1)]
        documents = [[t for t in d if t != eos_id] for d in documents]
        documents = [d for d in documents if d]
        if not documents:
            continue
        texts = source.backend_tokenizer.decode_batch(documents, skip_special_tokens=False)
        for encoding in target.backend_tokenizer.encode_batch(texts, add_special_tokens=False):
            yield list(encoding.ids)


# -- examples -------------------------------------------------------------------------------


class PackedSequences(Dataset):
    """Window i of a flat id array, padded to `sequence_length` (see module docstring)."""

    def __init__(self, ids: np.ndarray, sequence_length: int, overlap: int, pad_id: int):
        self.ids = ids
        self.sequence_length = sequence_length
        self.overlap = overlap
        self.stride = sequence_length - overlap
        self.pad_id = pad_id
        self.windows = count_windows(len(ids), sequence_length, overlap)

    def __len__(self) -> int:
        return self.windows

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start = index * self.stride
        chunk = np.asarray(self.ids[start:start + self.sequence_length], dtype=np.int64)
        n = len(chunk)
        input_ids = torch.full((self.sequence_length,), self.pad_id, dtype=torch.long)
        input_ids[:n] = torch.from_numpy(chunk)
        attention = torch.zeros(self.sequence_length, dtype=torch.long)
        attention[:n] = 1
        labels = torch.full((self.sequence_length,), IGNORE, dtype=torch.long)
        labels[:n] = input_ids[:n]
        if index > 0:
            labels[: self.overlap] = IGNORE
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}

    def label_counts(self, vocab_size: int) -> np.ndarray:
        """How often each id is a label over the whole split (for the unigram baseline)."""
        counts = np.zeros(vocab_size, dtype=np.int64)
        step = 1 << 22
        for start in range(0 if self.windows else len(self.ids), len(self.ids), step):
            block = np.asarray(self.ids[start:start + step], dtype=np.int64)
            counts += np.bincount(block, minlength=vocab_size)[:vocab_size]
        if len(self.ids):
            counts[int(self.ids[0])] -= 1  # the first token is never predicted
        return counts


class WindowExamples(Dataset):
    """Rows of a dataset parquet split: context + target, loss on the target tokens."""

    def __init__(self, parquet: Path, sequence_length: int, pad_id: int, cache_dir: Path,
                 translate=None):
        import datasets
        from datasets import Dataset as HFDataset

        datasets.disable_progress_bars()
        datasets.utils.logging.set_verbosity_error()
        self.rows = HFDataset.from_parquet(str(parquet), cache_dir=str(cache_dir), keep_in_memory=False)
        missing = {"context_ids", "target_ids", "context_mask", "target_mask"} - set(self.rows.column_names)
        if missing:
            raise BadInputError(f"{parquet} lacks columns {sorted(missing)}; re-run `gitlm dataset`")
        self.rows = self.rows.select_columns(["context_ids", "target_ids", "context_mask", "target_mask"])
        self.sequence_length = sequence_length
        self.pad_id = pad_id
        self.translate = translate  # workspace ids -> model ids, for a model with its own tokenizer

    def __len__(self) -> int:
        return len(self.rows)

    def tokens(self, index: int) -> tuple[list[int], list[int]]:
        row = self.rows[index]
        context = [t for t, m in zip(row["context_ids"], row["context_mask"]) if m]
        target = [t for t, m in zip(row["target_ids"], row["target_mask"]) if m]
        if self.translate is not None:
            context, target = self.translate(context), self.translate(target)
        return context, target

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        context, target = self.tokens(index)
        sequence = (context + target)[-self.sequence_length:]
        supervised = min(len(target), len(sequence))
        n = len(sequence)
        input_ids = torch.full((self.sequence_length,), self.pad_id, dtype=torch.long)
        input_ids[:n] = torch.tensor(sequence, dtype=torch.long)
        attention = torch.zeros(self.sequence_length, dtype=torch.long)
        attention[:n] = 1
        labels = torch.full((self.sequence_length,), IGNORE, dtype=torch.long)
        labels[n - supervised:n] = input_ids[n - supervised:n]
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}

    def label_counts(self, vocab_size: int) -> np.ndarray:
        counts = np.zeros(vocab_size, dtype=np.int64)
        for index in range(len(self)):
            _, target = self.tokens(index)
            if target:
                counts += np.bincount(np.asarray(target, dtype=np.int64), minlength=vocab_size)[:vocab_size]
        return counts


# -- resumable order -------------------------------------------------------------------------


class ResumableSampler(Sampler[int]):
    """A seeded permutation per epoch that can start part-way through (resume).

    `len()` is always the full split, so Lightning's batch counting stays right while a
    resumed epoch yields only the batches not yet trained on.
    """

    def __init__(self, size: int, seed: int, shuffle: bool = True):
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.skip = 0  # samples to skip at the start of the next iteration

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.skip = 0
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        skip, self.skip = self.skip, 0
        return iter(order[skip:])


class TrainingData(LightningDataModule):
    """Train/val/test datasets and their loaders; the train position is checkpointed."""

    def __init__(self, train: Dataset, val: Dataset, test: Dataset | None, *, batch_size: int,
                 eval_batch_size: int | None = None, workers: int, seed: int, pin_memory: bool = False):
        super().__init__()
        self.train_set, self.val_set, self.test_set = train, val, test
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.workers = workers
        self.seed = seed
        self.pin_memory = pin_memory
        self.sampler = ResumableSampler(len(train), seed)

    def _loader(self, dataset: Dataset, batch_size: int, sampler=None) -> DataLoader:
        return DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=self.workers,
            persistent_workers=self.workers > 0, pin_memory=self.pin_memory,
            # A private generator: drawing worker seeds must not move the global RNG, which
            # dropout uses, or a resumed run would diverge from an uninterrupted one.
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, self.sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.eval_batch_size)

    def test_loader(self) -> DataLoader | None:
        return self._loader(self.test_set, self.eval_batch_size) if self.test_set is not None and len(self.test_set) else None

    def state_dict(self) -> dict[str, Any]:
        trainer = self.trainer
        if trainer is None:
            return {}
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return {"epoch": trainer.current_epoch, "batches": int(done), "batch_size": self.batch_size, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        batches_per_epoch = math.ceil(len(self.train_set) / self.batch_size)
        epoch, batches = int(state["epoch"]), int(state["batches"])
        if state.get("batch_size") != self.batch_size or state.get("seed") != self.seed:
            batches = 0  # another batch size or seed: positions do not carry over; start the epoch afresh
        if batches >= batches_per_epoch:
            epoch, batches = epoch + 1, 0
        self.sampler.epoch = epoch
        self.sampler.skip = batches * self.batch_size
