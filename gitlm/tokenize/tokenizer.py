"""Tokenizer choice, training and saving: repo-bpe, gpt2, or a local directory.

Whatever the source, the result is a Hugging Face fast tokenizer with an end-of-document
token, a pad token and every structural marker as one special id, saved to the workspace's
`tokenizer/` so `AutoTokenizer.from_pretrained(<workspace>/tokenizer)` loads it offline.
Encoding uses its `tokenizers` backend directly (Rust, batched, both cores).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from gitlm.errors import BadInputError, GitlmError
from gitlm.tokenize.special import EOS, MARKERS, PAD, all_special_tokens
from gitlm.tokenize.strategies import Marker, segments

BUILTIN = ("repo-bpe", "gpt2")
MIN_VOCAB, MAX_DEFAULT_VOCAB = 1024, 32768
PIECE_CHARACTERS = 32_768  # longest piece of a long text given to the tokenizer at once
ENCODE_CHARACTERS = 1_000_000  # characters per call into tokenizers (bounds its working memory)


def split_for_encoding(text: str, limit: int) -> list[str]:
    """`text` cut into pieces of about `limit` characters, each cut just before a space or
    newline whose preceding character is not whitespace (a pre-tokenization boundary of
    GPT-2-style byte-level tokenizers). A stretch with no such place stays whole."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    start = 0
    while len(text) - start > limit:
        cut = _boundary_before(text, start, start + limit)
        if cut is None:  # no boundary in this window: look further, never cut unsafely
            cut = _boundary_after(text, start + limit)
            if cut is None:
                break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def _boundary_before(text: str, start: int, end: int) -> int | None:
    for separator in ("\n", " "):
        at = text.rfind(separator, start + 1, end)
        while at > start:
            if not text[at - 1].isspace():
                return at
            at = text.rfind(separator, start + 1, at)
    return None


def _boundary_after(text: str, start: int) -> int | None:
    candidates = []
    for separator in ("\n", " "):
        at = text.find(separator, start)
        while at != -1 and text[at - 1].isspace():
            at = text.find(separator, at + 1)
        if at != -1:
            candidates.append(at)
    return min(candidates) if candidates else None


def default_vocab_size(training_characters: int) -> int:
    """repo-bpe's vocabulary when none is given: 4·√(characters of training text), rounded
    to a multiple of 64, within [1,024, 32,768]. Small histories get small vocabularies
    (every merge still seen often enough to learn): flask's messages (2 M characters) give
    5,632, its diffs (23 M) 19,072, the 32 M-character training cap 22,656; 32k is the
    ceiling, where a small model's embedding matrix stays modest."""
    guess = int(round(4 * math.sqrt(max(training_characters, 1)) / 64)) * 64
    return max(MIN_VOCAB, min(MAX_DEFAULT_VOCAB, guess))


class GitTokenizer:
    """A fast tokenizer plus what gitlm needs to know about it."""

    def __init__(self, hf: Any, kind: str, source: str):
        self.hf = hf  # transformers tokenizer (TokenizersBackend), for save_pretrained
        self.kind = kind  # repo-bpe | gpt2 | path
        self.source = source
        self.backend = hf.backend_tokenizer  # tokenizers.Tokenizer, shared with hf
        # Packing must see every token: a loaded tokenizer.json may carry truncation/padding.
        self.backend.no_truncation()
        self.backend.no_padding()
        # The embedding rows a model needs: one past the largest id (added tokens included).
        self.vocab_size = max(self.backend.get_vocab(with_added_tokens=True).values()) + 1
        self.eos_token_id = self._id(hf.eos_token)
        self.pad_token_id = self._id(hf.pad_token)
        self.splits_long_texts = kind in BUILTIN
        self.marker_ids = {marker: self._id(marker) for marker in MARKERS}
        # A copy that reads special-token spellings in history text as text; the markers'
        # ids are put in by encode_documents. (The saved tokenizer still matches them in
        # text, so a prompt written in a strategy's format encodes as in training.)
        self._text_encoder = Tokenizer.from_str(self.backend.to_str())
        self._text_encoder.encode_special_tokens = True
        self._special = np.zeros(self.vocab_size, dtype=bool)
        for token_id, token in self.backend.get_added_tokens_decoder().items():
            if token.special and token_id < self.vocab_size:
                self._special[token_id] = True

    def _id(self, token: str) -> int:
        token_id = self.backend.token_to_id(token)
        if token_id is None:
            raise GitlmError(f"token {token!r} is not in the tokenizer's vocabulary")
        return token_id

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's ids (uint32), all of it history text: no special ids, none added."""
        return self.encode_documents([[text] for text in texts])

    def encode_documents(self, documents: list[list[str]]) -> list[np.ndarray]:
        """Each document's ids (uint32) from its parts: a Marker part is its special id, the
        text between markers is encoded as text, even where it spells a special token.

        Fast path: the whole document through the tokenizer, which matches the markers itself
        (the text between them is pre-tokenized on its own either way, so the ids are the
        same). When the result holds more special ids than the document has markers, its
        history text spells one; that document is encoded again segment by segment with
        special-token matching off.
        """
        texts = ["".join(parts) for parts in documents]
        ids = self._encode_texts(self.backend, texts)
        for number, (parts, own) in enumerate(zip(documents, ids)):
            markers = len([part for part in parts if part.__class__ is Marker])
            if int(np.count_nonzero(self._special[own])) != markers:
                ids[number] = self._encode_segments(parts)
        return ids

    def _encode_segments(self, parts: list[str]) -> np.ndarray:
        pieces = segments(parts)
        texts = [piece for piece in pieces if not isinstance(piece, Marker)]
        encoded = iter(self._encode_texts(self._text_encoder, texts))
        own = [np.array([self.marker_ids[piece]], dtype=np.uint32) if isinstance(piece, Marker) else next(encoded) for piece in pieces]
        return np.concatenate(own) if own else np.zeros(0, dtype=np.uint32)

    def _encode_texts(self, backend: Tokenizer, texts: list[str]) -> list[np.ndarray]:
        """Batched encoding of plain texts with bounded working memory.

        `tokenizers` needs ~200 bytes of working memory per character of a text, so a
        multi-megabyte commit would set the process's peak memory. For the GPT-2-style
        byte-level tokenizers (repo-bpe, gpt2) long texts are encoded in pieces cut just
        before a space or newline that follows a non-space character: the pre-tokenizer
        always has a boundary there (and no special token holds whitespace), so the ids are
        exactly those of the whole text.
        """
        pieces: list[str] = []
        owners: list[int] = []
        for number, text in enumerate(texts):
            parts = split_for_encoding(text, PIECE_CHARACTERS) if self.splits_long_texts else [text]
            pieces.extend(parts)
            owners.extend([number] * len(parts))
        ids: list[list[np.ndarray]] = [[] for _ in texts]
        start = 0
        while start < len(pieces):
            end, characters = start, 0
            while end < len(pieces) and (end == start or characters + len(pieces[end]) <= ENCODE_CHARACTERS):
                characters += len(pieces[end])
                end += 1
            encodings = backend.encode_batch_fast(pieces[start:end], add_special_tokens=False)
            for owner, encoding in zip(owners[start:end], encodings):
                ids[owner].append(np.array(encoding.ids, dtype=np.uint32))
            start = end
        return [parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32) for parts in ids]

    def decode(self, ids: Iterable[int]) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=False)

    def fallback_table(self) -> np.ndarray:
        """True for ids that do not stand for whole characters: byte pieces of a character
        (byte-level BPE), `<0xNN>` byte-fallback tokens, or the unknown token. Their share of
        a corpus's tokens is the byte-fallback rate."""
        table = np.zeros(self.vocab_size, dtype=bool)
        decoder = self.backend.decoder
        byte_level = decoder is not None and b'"ByteLevel"' in decoder.__getstate__()
        unk = getattr(self.backend.model, "unk_token", None)
        to_latin1 = {ord(char): byte for byte, char in _bytes_to_unicode().items()}  # char -> its byte
        added = set(self.backend.get_added_tokens_decoder())
        byte_token = re.compile(r"<0x[0-9A-Fa-f]{2}>")
        for token, token_id in self.backend.get_vocab(with_added_tokens=False).items():
            if token_id in added or token_id >= len(table):
                continue
            if token == unk or byte_token.fullmatch(token):
                table[token_id] = True
            elif byte_level:
                try:
                    token.translate(to_latin1).encode("latin-1").decode("utf-8")
                except UnicodeEncodeError:  # a character outside the byte alphabet: not byte-level
                    pass
                except UnicodeDecodeError:
                    table[token_id] = True
        return table

    def save(self, directory: Path) -> None:
        """save_pretrained into `directory`, replacing it only when complete."""
        directory = Path(directory)
        temp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
        shutil.rmtree(temp, ignore_errors=True)
        self.hf.save_pretrained(str(temp))
        # transformers 5 keeps special tokens in tokenizer_config.json only; older releases
        # (and other tools) read special_tokens_map.json, so write it too.
        special = {"eos_token": self.hf.eos_token, "pad_token": self.hf.pad_token,
                   "additional_special_tokens": list(MARKERS)}
        for name in ("bos_token", "unk_token", "sep_token", "cls_token", "mask_token"):
            value = getattr(self.hf, name, None)
            if value:
                special[name] = value
        (temp / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        if directory.exists():
            os.replace(directory, old)
        os.replace(temp, directory)
        shutil.rmtree(old, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "vocab_size": self.vocab_size,
                "eos_token_id": self.eos_token_id, "pad_token_id": self.pad_token_id}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (what byte-level BPE vocabularies store)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def _wrap(backend: Any, **special: str) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=backend, **special)


def _add_gitlm_tokens(hf: Any) -> None:
    """Markers as special tokens; an eos and a pad token when the tokenizer has none."""
    wanted: dict[str, Any] = {"extra_special_tokens": list(MARKERS)}
    if hf.eos_token is None:
        wanted["eos_token"] = EOS
    if hf.pad_token is None or hf.pad_token == (hf.eos_token or wanted.get("eos_token")):
        # a distinct pad id, so padding can never be mistaken for a document end
        wanted["pad_token"] = PAD
    hf.add_special_tokens(wanted, replace_extra_special_tokens=False)


def train_repo_bpe(pieces: Iterable[list[str]], vocab_size: int, min_frequency: int, context_tokens: list[str]) -> GitTokenizer:
    """A byte-level BPE trained on the repository's own text.

    `pieces` yields each document's text cut at its markers (see special.text_pieces).
    Ids: <|endoftext|> = 0, <|pad|> = 1, the markers next, then the 256 bytes and the merges;
    the context tokens come last as added (non-special) tokens, so they decode as text.
    `vocab_size` counts all of them.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    specials = all_special_tokens()
    bpe_size = vocab_size - len(context_tokens)
    if bpe_size < 256 + len(specials) + 1:
        raise BadInputError(f"vocab size {vocab_size} is too small: the byte alphabet, {len(specials)} special "
                            f"tokens and {len(context_tokens)} context tokens need more")
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_size, min_frequency=min_frequency, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    backend.train_from_iterator(pieces, trainer)
    backend.add_tokens([AddedToken(token, single_word=False, normalized=False, special=False) for token in context_tokens])
    hf = _wrap(backend, eos_token=EOS, pad_token=PAD, extra_special_tokens=list(MARKERS))
    return GitTokenizer(hf, "repo-bpe", "trained")


def load_gpt2(cache_dir: Path | None) -> GitTokenizer:
    """GPT-2's BPE (ids 0..50256 exactly as tiktoken's r50k_base), plus pad and markers."""
    from gitlm.tokenize.gpt2 import GPT2_EOS, gpt2_backend

    hf = _wrap(gpt2_backend(cache_dir), eos_token=GPT2_EOS)
    _add_gitlm_tokens(hf)
    return GitTokenizer(hf, "gpt2", "whisper/assets/gpt2.tiktoken")


def load_local(path: Path) -> GitTokenizer:
    """Any tokenizer directory in AutoTokenizer's layout, with gitlm's tokens added."""
    path = Path(path)
    if not path.is_dir():
        raise BadInputError(f"tokenizer {str(path)!r} is not repo-bpe, gpt2 or a tokenizer directory")
    from transformers import AutoTokenizer

    try:
        hf = AutoTokenizer.from_pretrained(str(path), local_files_only=True, use_fast=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"cannot load a tokenizer from {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if getattr(hf, "backend_tokenizer", None) is None:
        raise BadInputError(f"{path} holds a slow (Python) tokenizer only; gitlm needs a fast one (tokenizer.json)")
    _add_gitlm_tokens(hf)
    return GitTokenizer(hf, "path", str(path.resolve()))


def reload_saved(path: Path, kind: str, source: str) -> GitTokenizer:
    """A tokenizer this workspace saved earlier, as what it was (repo-bpe, gpt2 or path), so
    new history is encoded with the same ids a model was trained on."""
    return GitTokenizer(load_local(path).hf, kind, source)


def is_builtin(choice: str) -> bool:
    return choice in BUILTIN


def check_choice(choice: str) -> None:
    """Fail early, with one line, on a tokenizer that is neither built in nor a directory."""
    if not is_builtin(choice) and not Path(choice).is_dir():
        raise BadInputError(f"tokenizer {choice!r} is not repo-bpe, gpt2 or a tokenizer directory")
