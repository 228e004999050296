"""Phase 3: commits.jsonl (or chunks.jsonl) -> tokenizer/ and tokens/, recorded in MANIFEST.json.

Three streaming passes over the input, each rendering documents on the fly, so memory is
bounded by one batch of documents plus a few bytes per document (timestamp, keep flag,
token count), never by the corpus:

1. survey: render every document, drop near duplicates (gitlm.privacy, on by default),
   note each kept document's timestamp (for the temporal split), its size, and the
   context tokens it uses;
2. train (repo-bpe only): byte-level BPE over the documents' text between markers,
   sampled evenly when the corpus exceeds `max_training_chars`;
3. encode and pack: batches through the tokenizer's Rust backend, ids appended to
   tokens/{train,val,test}.bin with an end-of-document id after each document.
"""

from __future__ import annotations

import contextlib
import re
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from gitlm.config import GitlmConfig
from gitlm.errors import BadInputError
from gitlm.schema import Chunk, Commit, iter_jsonl
from gitlm.tokenize.packing import DocumentIndex, TokenFile, sequence_count, token_dtype
from gitlm.tokenize.special import count_context_tokens, select_context_tokens, text_pieces
from gitlm.tokenize.split import SPLITS, TemporalSplit, iso
from gitlm.tokenize.strategies import Document, Marker, RenderStats, render, segments
from gitlm.tokenize.tokenizer import (
    GitTokenizer, check_choice, default_vocab_size, is_builtin, load_gpt2, load_local, reload_saved, train_repo_bpe,
)
from gitlm.workspace import PhaseTimer, Workspace, fingerprint, library_versions

COMMITS = "commits.jsonl"
CHUNKS = "chunks.jsonl"
TOKENIZER_DIR = "tokenizer"
TOKENS_DIR = "tokens"
META = "tokens/meta.json"
DOCUMENT_INDEX = "tokens/documents.parquet"
SEQUENCES_JSON = "tokens/token_sequences.json"
TOKENIZED_JSONL = "tokens/tokenized_commits.jsonl"
# BPE training skips runs of 200+ non-space characters (base64 images in notebooks, minified
# code, lock-file hashes): merges learned from them are noise, and each distinct one costs the
# trainer ~20 bytes per character, which would make its memory grow with the history.
LONG_RUN = re.compile(r"\S{200,}")
BATCH_CHARACTERS = 1_000_000  # text per encode batch: work for every core, ~60 MB of encodings
BATCH_DOCUMENTS = 1024

ProgressCallback = Callable[[str, int, "int | None"], None]


def epochs_for(total_tokens: int, target_tokens: int, min_epochs: int, max_epochs: int) -> int:
    """epochs = clamp(floor(target_tokens / total_tokens), min_epochs, max_epochs);
    an empty corpus gets max_epochs (there is nothing to over-fit yet)."""
    if total_tokens <= 0:
        return max_epochs
    return max(min_epochs, min(max_epochs, target_tokens // total_tokens))


@dataclass
class TokenizeStats:
    """What a tokenize run produced (printed by --stats, kept in MANIFEST.json)."""

    strategy: str = ""
    tokenizer: str = ""
    tokenizer_reused: bool = False  # the workspace's tokenizer/ from the previous run was kept
    vocab_size: int = 0
    documents_read: int = 0
    documents: int = 0
    near_duplicates_removed: int = 0
    dedup: str = "off"  # on | off | unavailable (gitlm.privacy not installed)
    secret_redaction: str = "off"  # upstream | applied | off: see secret_redaction()
    total_tokens: int = 0  # ids in tokens/*.bin, end-of-document ids included
    document_tokens: int = 0  # the same without the end-of-document ids
    sequences: int = 0
    sequence_length: int = 0
    overlap: int = 0
    characters: int = 0
    byte_fallback_tokens: int = 0
    context_tokens_added: int = 0
    ancestors_not_found: int = 0
    bpe_training_characters: int = 0
    bpe_training_seconds: float = 0.0
    encode_seconds: float = 0.0
    epochs: int = 0
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_cuts: dict[str, Any] = field(default_factory=dict)
    _document_tokens: array = field(default_factory=lambda: array("q"), repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        counts = np.frombuffer(self._document_tokens, dtype=np.int64) if len(self._document_tokens) else np.zeros(0, np.int64)
        data["tokens_per_document"] = {
            "mean": round(float(counts.mean()), 2) if len(counts) else 0.0,
            "min": int(counts.min()) if len(counts) else 0,
            "p50": int(np.percentile(counts, 50)) if len(counts) else 0,
            "p95": int(np.percentile(counts, 95)) if len(counts) else 0,
            "max": int(counts.max()) if len(counts) else 0,
        }
        data["byte_fallback_rate"] = round(self.byte_fallback_tokens / self.document_tokens, 6) if self.document_tokens else 0.0
        data["characters_per_token"] = round(self.characters / self.document_tokens, 3) if self.document_tokens else 0.0
        data["tokens_per_second"] = round(self.document_tokens / self.encode_seconds) if self.encode_seconds > 0 else 0
        return data


@dataclass
class _Survey:
    keep: bytearray = field(default_factory=bytearray)  # 1 per rendered document: kept?
    timestamps: array = field(default_factory=lambda: array("q"))  # kept documents only
    characters: int = 0
    context: Counter[str] = field(default_factory=Counter)


def input_file(workspace: Workspace, strategy: str) -> tuple[Path, type]:
    """The records a strategy reads, or a one-line error naming the phase that writes them."""
    if strategy == "chunks":
        path, record_type, phase = workspace.path(CHUNKS), Chunk, "gitlm chunk"
    else:
        path, record_type, phase = workspace.path(COMMITS), Commit, "gitlm scrape"
    if not path.is_file():
        raise BadInputError(f"{path} does not exist; run `{phase}` first")
    return path, record_type


def _documents(path: Path, record_type: type, strategy: str, history_depth: int, stats: RenderStats,
               redact_with: GitlmConfig | None = None) -> Iterator[Document]:
    records = iter_jsonl(path, record_type)
    if redact_with is not None:  # the input was written without redaction (gitlm.privacy)
        from gitlm.privacy import redact_records

        records = redact_records(records, redact_with)
    return render(strategy, records, history_depth=history_depth, stats=stats)


def secret_redaction(workspace: Workspace, config: GitlmConfig) -> str:
    """off (privacy.redact_secrets is false), upstream (the phase that wrote the input
    redacted it, per MANIFEST.json), or applied (this phase redacts every record it reads:
    the input was written with --keep-secrets, or by a phase that does not say)."""
    if not config.privacy.redact_secrets:
        return "off"
    upstream = workspace.read_manifest()["phases"].get("chunk" if config.tokenize.strategy == "chunks" else "scrape", {})
    said = [(upstream.get("stats") or {}).get("secret_redaction"),  # scrape
            ((upstream.get("config") or {}).get("privacy") or {}).get("redact_secrets"),  # scrape
            (upstream.get("config") or {}).get("redact_secrets")]  # chunk
    if upstream.get("status") == "completed" and True in said and False not in said:
        return "upstream"
    return "applied"


def _kept(documents: Iterator[Document], keep: bytearray) -> Iterator[Document]:
    for index, document in enumerate(documents):
        if keep[index]:
            yield document


def _dedup_filter(config: GitlmConfig) -> tuple[Any, str]:
    try:
        from gitlm.privacy import dedup_from_config
    except ImportError:
        return None, "unavailable"
    dedup = dedup_from_config(config)
    return dedup, "on" if dedup is not None else "off"


def _survey(documents: Iterator[Document], dedup: Any, count_context: bool, progress: ProgressCallback | None) -> _Survey:
    survey = _Survey()
    for document in documents:
        if dedup is not None and dedup.is_duplicate(document.text, document.doc_id):
            survey.keep.append(0)
            continue
        survey.keep.append(1)
        survey.timestamps.append(document.timestamp)
        survey.characters += len(document.text)
        if count_context:
            count_context_tokens(document.text, survey.context)
        if progress is not None and len(survey.keep) % 256 == 0:
            progress("survey", len(survey.keep), None)
    return survey


def _training_pieces(documents: Iterator[Document], rate: float, added: frozenset[str], stats: TokenizeStats) -> Iterator[list[str]]:
    """Each sampled document's text between markers; `rate` of the documents, evenly spread."""
    credit = 0.0
    for document in documents:
        credit += rate
        if credit < 1.0:
            continue
        credit -= 1.0
        stats.bpe_training_characters += len(document.text)
        yield [part for segment in segments(document.parts) if not isinstance(segment, Marker)
               for piece in text_pieces(segment, added) for part in LONG_RUN.split(piece) if part]


def _build_tokenizer(workspace_config: GitlmConfig, survey: _Survey, kept_documents: Callable[[], Iterator[Document]],
                     stats: TokenizeStats) -> GitTokenizer:
    config = workspace_config.tokenize
    if config.tokenizer == "gpt2":
        return load_gpt2(config.cache_dir)
    if config.tokenizer != "repo-bpe":
        return load_local(Path(config.tokenizer))
    training_characters = min(survey.characters, config.max_training_chars)
    vocab_size = config.vocab_size or default_vocab_size(training_characters)
    context = select_context_tokens(survey.context, min(config.context_tokens, vocab_size // 4), config.min_frequency)
    rate = min(1.0, config.max_training_chars / survey.characters) if survey.characters else 1.0
    started = time.perf_counter()
    tokenizer = train_repo_bpe(_training_pieces(kept_documents(), rate, frozenset(context), stats),
                               vocab_size, config.min_frequency, context)
    stats.bpe_training_seconds = round(time.perf_counter() - started, 3)
    stats.context_tokens_added = len(context)
    return tokenizer


def _batches(documents: Iterator[Document]) -> Iterator[list[Document]]:
    batch: list[Document] = []
    characters = 0
    for document in documents:
        batch.append(document)
        characters += len(document.text)
        if characters >= BATCH_CHARACTERS or len(batch) >= BATCH_DOCUMENTS:
            yield batch
            batch, characters = [], 0
    if batch:
        yield batch


def _encoded(batches: Iterator[list[Document]], tokenizer: GitTokenizer) -> Iterator[tuple[list[Document], list[np.ndarray]]]:
    """Each batch with its ids, one batch ahead: `tokenizers` releases the GIL while it
    encodes, so rendering the next batch and packing the previous one overlap the encoding."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitlm-encode") as pool:
        pending: tuple[list[Document], Future[list[np.ndarray]]] | None = None
        for batch in batches:
            future = pool.submit(tokenizer.encode_documents, [document.parts for document in batch])
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (batch, future)
        if pending is not None:
            yield pending[0], pending[1].result()


def _pack(workspace: Workspace, documents: Iterator[Document], tokenizer: GitTokenizer, splitter: TemporalSplit,
          config: GitlmConfig, stats: TokenizeStats, progress: ProgressCallback | None, total: int,
          fallback: np.ndarray) -> dict[str, TokenFile]:
    dtype = token_dtype(tokenizer.vocab_size)
    eos = tokenizer.eos_token_id
    export = config.tokenize.exports
    encoder = msgspec.json.Encoder()
    files: dict[str, TokenFile] = {}
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        for name in SPLITS:
            files[name] = TokenFile(stack.enter_context(workspace.atomic_writer(f"{TOKENS_DIR}/{name}.bin")), dtype)
        index = DocumentIndex(stack.enter_context(workspace.atomic_writer(DOCUMENT_INDEX)))
        exported = stack.enter_context(workspace.atomic_writer(TOKENIZED_JSONL)) if export else None
        done = 0
        for batch, encoded in _encoded(_batches(documents), tokenizer):
            for document, ids in zip(batch, encoded):
                split = SPLITS[splitter.assign(document.timestamp)]
                count = len(ids)
                if exported is not None:
                    exported.write(encoder.encode({
                        "id": document.doc_id, "commit_hash": document.commit_hash, "commit_number": document.commit_number,
                        "timestamp": document.timestamp, "split": split, "token_ids": ids.tolist(), "num_tokens": count,
                        "num_characters": len(document.text),
                    }) + b"\n")
                stats.byte_fallback_tokens += int(np.count_nonzero(fallback[ids]))
                stats.characters += len(document.text)
                stats._document_tokens.append(count)
                target = files[split]
                offset = target.add(ids.astype(dtype, copy=False), eos, document.timestamp)
                index.add(split=split, position=target.documents - 1, doc_id=document.doc_id, commit_hash=document.commit_hash,
                          commit_number=document.commit_number, timestamp=document.timestamp, offset=offset, tokens=count)
            done += len(batch)
            if progress is not None:
                progress("encode", done, total)
        for token_file in files.values():
            token_file.flush()
        index.close()
    stats.encode_seconds = round(time.perf_counter() - started, 3)
    return files


def write_sequences_json(workspace: Workspace, meta: dict[str, Any]) -> None:
    """tokens/token_sequences.json: every sequence of every split (train, val, test), streamed
    from the memmaps. An export for inspection and other tools; training reads the .bin files."""
    length, stride = meta["sequence_length"], meta["stride"]
    with workspace.atomic_writer(SEQUENCES_JSON) as out:
        header = {k: meta[k] for k in ("vocab_size", "sequence_length", "overlap", "stride", "strategy", "dtype")}
        header.update(num_sequences=sum(s["sequences"] for s in meta["splits"].values()), total_tokens=meta["total_tokens"],
                      splits={name: {"first_sequence": 0, "sequences": 0} for name in SPLITS})
        first = 0
        for name in SPLITS:
            header["splits"][name] = {"first_sequence": first, "sequences": meta["splits"][name]["sequences"]}
            first += meta["splits"][name]["sequences"]
        out.write(msgspec.json.encode(header)[:-1] + b',"token_sequences":[')
        written = 0
        for name in SPLITS:
            split = meta["splits"][name]
            if not split["tokens"]:
                continue
            ids = np.memmap(workspace.path(f"{TOKENS_DIR}/{split['file']}"), dtype=meta["dtype"], mode="r")
            for i in range(split["sequences"]):
                out.write((b"," if written else b"") + msgspec.json.encode(ids[i * stride:i * stride + length].tolist()))
                written += 1
            del ids
        out.write(b"]}\n")


def _meta(tokenizer: GitTokenizer, files: dict[str, TokenFile], config: GitlmConfig) -> dict[str, Any]:
    tok = config.tokenize
    splits = {}
    for name in SPLITS:
        f = files[name]
        splits[name] = {
            "file": f"{name}.bin", "tokens": f.tokens, "sequences": sequence_count(f.tokens, tok.sequence_length, tok.overlap),
            "documents": f.documents, "first_timestamp": f.first_timestamp, "last_timestamp": f.last_timestamp,
        }
    return {
        "dtype": token_dtype(tokenizer.vocab_size).name,
        "vocab_size": tokenizer.vocab_size,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "sequence_length": tok.sequence_length,
        "overlap": tok.overlap,
        "stride": tok.sequence_length - tok.overlap,
        "strategy": tok.strategy,
        "tokenizer": TOKENIZER_DIR,
        "total_tokens": sum(f.tokens for f in files.values()),
        "splits": splits,
        "documents_index": "documents.parquet",
    }


def _input_fingerprint(workspace: Workspace, path: Path, config: GitlmConfig) -> str:
    manifest = workspace.read_manifest()
    upstream = manifest["phases"].get("chunk" if config.tokenize.strategy == "chunks" else "scrape", {})
    stat = path.stat()
    tokenizer_file = Path(config.tokenize.tokenizer) / "tokenizer.json"
    tokenizer_id = (tokenizer_file.stat().st_size, tokenizer_file.stat().st_mtime_ns) if tokenizer_file.is_file() else config.tokenize.tokenizer
    return fingerprint(upstream.get("fingerprint"), stat.st_size, stat.st_mtime_ns, config.tokenize.model_dump(mode="json"),
                       config.privacy.model_dump(mode="json"), tokenizer_id)


def _saved_tokenizer(workspace: Workspace, config: GitlmConfig) -> GitTokenizer | None:
    """The tokenizer the previous tokenize run saved, if it ran with the same settings."""
    previous = workspace.read_manifest()["phases"].get("tokenize") or {}
    directory = workspace.path(TOKENIZER_DIR)
    if (previous.get("status") != "completed" or previous.get("config") != config.tokenize.model_dump(mode="json")
            or not (directory / "tokenizer.json").is_file()):
        return None
    kind = previous.get("stats", {}).get("tokenizer", "")
    return reload_saved(directory, kind if is_builtin(kind) else "path", kind)


def tokenize_workspace(workspace: Workspace, config: GitlmConfig | None = None, *,
                       progress: ProgressCallback | None = None, reuse_tokenizer: bool = False) -> TokenizeStats:
    """Render, (train,) encode and pack a workspace's history; record the phase.

    Writes tokenizer/, tokens/{train,val,test}.bin, tokens/documents.parquet, tokens/meta.json
    (and the exports on request) and MANIFEST.json's "tokenize" phase and
    "training_parameters" (the epoch formula). Returns the stats.

    `reuse_tokenizer` keeps the tokenizer/ an earlier run with the same settings saved
    (no BPE training): the ids stay those a model was trained on, so training can continue
    on the re-tokenized, grown history (`gitlm run --train continue`).
    """
    config = config or GitlmConfig()
    tok = config.tokenize
    check_choice(tok.tokenizer)
    if tok.vocab_size is not None and tok.tokenizer != "repo-bpe":
        raise BadInputError(f"--vocab-size applies to the repo-bpe tokenizer only, not {tok.tokenizer}")
    path, record_type = input_file(workspace, tok.strategy)
    stats = TokenizeStats(strategy=tok.strategy, tokenizer=tok.tokenizer, sequence_length=tok.sequence_length, overlap=tok.overlap)
    with workspace.lock():
        timer = PhaseTimer()
        render_stats = RenderStats()

        stats.secret_redaction = secret_redaction(workspace, config)
        redact_with = config if stats.secret_redaction == "applied" else None

        def documents() -> Iterator[Document]:
            return _documents(path, record_type, tok.strategy, tok.history_depth, RenderStats(), redact_with)

        saved = _saved_tokenizer(workspace, config) if reuse_tokenizer else None
        dedup, stats.dedup = _dedup_filter(config)
        survey = _survey(_documents(path, record_type, tok.strategy, tok.history_depth, render_stats, redact_with), dedup,
                         tok.tokenizer == "repo-bpe" and saved is None, progress)
        stats.documents_read = len(survey.keep)
        stats.documents = len(survey.timestamps)
        stats.near_duplicates_removed = stats.documents_read - stats.documents
        stats.ancestors_not_found = render_stats.ancestors_not_found
        splitter = TemporalSplit.from_timestamps(np.frombuffer(survey.timestamps, dtype=np.int64), tok.split)
        stats.split_cuts = splitter.as_dict()

        if saved is not None:
            tokenizer, stats.tokenizer_reused = saved, True
        else:
            tokenizer = _build_tokenizer(config, survey, lambda: _kept(documents(), survey.keep), stats)
            tokenizer.save(workspace.path(TOKENIZER_DIR))
        stats.tokenizer = tokenizer.kind if tokenizer.kind != "path" else tokenizer.source
        stats.vocab_size = tokenizer.vocab_size

        files = _pack(workspace, _kept(documents(), survey.keep), tokenizer, splitter, config, stats, progress, stats.documents,
                      tokenizer.fallback_table())
        meta = _meta(tokenizer, files, config)
        workspace.write_json(META, meta)
        outputs = [TOKENIZER_DIR, *(f"{TOKENS_DIR}/{n}.bin" for n in SPLITS), DOCUMENT_INDEX, META]
        if tok.exports:
            write_sequences_json(workspace, meta)
            outputs += [SEQUENCES_JSON, TOKENIZED_JSONL]

        stats.total_tokens = meta["total_tokens"]
        stats.document_tokens = stats.total_tokens - stats.documents
        stats.sequences = sum(s["sequences"] for s in meta["splits"].values())
        stats.splits = {name: {**split, "first_date": iso(split["first_timestamp"]), "last_date": iso(split["last_timestamp"])}
                        for name, split in meta["splits"].items()}
        stats.epochs = epochs_for(stats.total_tokens, tok.target_tokens, tok.min_epochs, tok.max_epochs)
        training = dict(workspace.read_manifest().get("training_parameters") or {})
        training.update(epochs=stats.epochs, epoch_formula={
            "target_tokens": tok.target_tokens, "total_tokens": stats.total_tokens,
            "min_epochs": tok.min_epochs, "max_epochs": tok.max_epochs,
        })
        result = {
            "status": "completed",
            **timer.finish(),
            "outputs": outputs,
            "stats": stats.as_dict(),
            "config": tok.model_dump(mode="json"),
            "fingerprint": _input_fingerprint(workspace, path, config),
            "error": None,
        }
        manifest = workspace.read_manifest()
        versions = dict(manifest.get("versions") or {}) | library_versions("tokenizers", "transformers", "numpy", "pyarrow")
        workspace.record_phase("tokenize", result, training_parameters=training, versions=versions)
    return stats


def sequence_of(ids: np.ndarray, index: int, sequence_length: int, overlap: int) -> np.ndarray:
    """Sequence `index` of a split's ids, as training reads it (the last may be shorter)."""
    stride = sequence_length - overlap
    return ids[index * stride:index * stride + sequence_length]


__all__ = ["TokenizeStats", "epochs_for", "sequence_of", "tokenize_workspace", "write_sequences_json"]
