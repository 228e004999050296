"""Near-duplicate removal for training data: MinHash LSH over token shingles, in a compact index.

A document is a near duplicate when the estimated Jaccard similarity of its set of
`ngram`-token shingles with an earlier kept document is at least `threshold`. Defaults
follow BigCode's near-deduplication of The Stack: 5-token shingles, threshold 0.85; 128
permutations (BigCode used 256; 128 halves the time and estimates Jaccard within about
±0.03 at 0.85). The first document of a cluster is kept, so results follow input order
(gitlm feeds history oldest first: the original survives, later copies go).

Tokens are runs of word characters or single punctuation marks, lower-cased; a document with
fewer than `ngram` tokens is one shingle of all of them, so tiny chunks are de-duplicated
only when they are identical. Shingles are hashed with zlib.crc32 (stable across runs and
processes, unlike hash()) and combined per shingle with numpy.

The decisions are datasketch's MinHashLSH, computed here without it: the signature is
datasketch 2's MinHash (scheme "affine32", same seed, same permutations, bit for bit), done
with numpy a piece of text (64K characters) and a block of shingles at a time, so a
multi-megabyte commit needs a few MB of working memory, not hundreds; the bands are
datasketch's optimal (b, r) for threshold and num_perm (8 bands of 16 at 0.85/128); a
document whose band equals that band of any kept document is a duplicate (MinHashLSH.query
non-empty). Each kept band is stored as one 64-bit hash of (band number, values), so the
index holds 8 bytes a band: 64 bytes per kept document at the defaults (plus a fixed ~64 KB
buffer), against ~11.6 KB before (datasketch's in-memory MinHashLSH and text digests). A
64-bit hash standing for the band means a false match has odds of about (kept bands) / 2^64
per look-up: nil in practice. No exact-text digests are kept: identical texts have identical
signatures, which collide in every band.
"""

from __future__ import annotations

import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

DEFAULT_THRESHOLD = 0.85
DEFAULT_NUM_PERM = 128
DEFAULT_NGRAM = 5

_TOKEN = re.compile(r"\w+|[^\w\s]")
# The same tokens on ASCII text, found ~25% faster in bytes and hashed without encoding each
# token: str's \s also takes \x1c-\x1f, bytes' does not, so they are named.
_ASCII_TOKEN = re.compile(rb"\w+|[^\w\s\x1c-\x1f]")
_SPACE = re.compile(r"\s")
_PIECE = 1 << 16  # characters tokenized at a time
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-64 prime: mixes a shingle's token hashes
_EMPTY = np.uint32(0xFFFFFFFF)  # an empty MinHash: every value at its maximum, as datasketch
_BLOCK = 4096  # shingles per block: 4096 x 128 permutations x 4 bytes = 2 MB of working memory
_POSITION_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio odd constant: (band, row) position -> seed


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising false positives + false negatives, as datasketch's MinHashLSH.

    datasketch integrates with scipy's quad; a Gauss-Legendre rule with num_perm // 2 + 1 nodes
    is exact here, since the integrands are polynomials of degree b * r <= num_perm.
    """
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    rows = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]

    def integral(low: float, high: float, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        s = (high - low) / 2 * nodes + (high + low) / 2
        return f(s[None, :]) @ weights * (high - low) / 2

    false_positive = integral(0.0, threshold, lambda s: 1 - (1 - s**rows) ** bands)
    false_negative = integral(threshold, 1.0, lambda s: (1 - s**rows) ** bands)
    error = 0.5 * false_positive + 0.5 * false_negative
    # the first strict minimum in datasketch's (b, r) order; ties within rounding go to the earlier pair
    best = int(np.flatnonzero(error <= error.min() + 1e-12)[0])
    return pairs[best]


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch pre-mixes hashes for its affine schemes."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _token_hashes(text: str) -> Iterator[np.ndarray]:
    """crc32 of each lower-cased token, piece by piece, so a multi-megabyte text never has all its
    tokens as Python objects (or all its shingles in arrays) at once. A piece ends after
    whitespace, which ends a token anyway and stops str.lower's only look-around (final sigma),
    so the pieces give the tokens of the whole."""
    start = 0
    while start < len(text):
        found = _SPACE.search(text, start + _PIECE) if start + _PIECE < len(text) else None
        end = found.end() if found else len(text)
        piece = text[start:end].lower()
        if piece.isascii():
            tokens = _ASCII_TOKEN.findall(piece.encode("ascii"))
        else:
            tokens = [token.encode("utf-8", "surrogatepass") for token in _TOKEN.findall(piece)]
        yield np.fromiter(map(zlib.crc32, tokens), dtype=np.uint64, count=len(tokens))
        start = end


def _combine(hashes: np.ndarray, n: int) -> np.ndarray:
    """The hash of each run of n consecutive token hashes."""
    combined = hashes[: len(hashes) - n + 1].copy()
    for k in range(1, n):
        combined *= _MULTIPLIER
        combined += hashes[k: len(hashes) - n + 1 + k]
    return combined


class BandIndex:
    """A set of 64-bit band hashes in 8 bytes each: sorted numpy runs plus a small buffer.

    New hashes go to a Python set of at most `buffer` entries (about 64 KB, whatever n is); a
    full buffer becomes a sorted run, and runs merge like a binary counter (a new run absorbs
    the runs before it that are no longer than itself), so each hash is merged about
    log2(n / buffer) times and there are at most that many runs to search.
    """

    def __init__(self, buffer: int = 1024) -> None:
        self._limit = buffer
        self._buffer: set[int] = set()
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._buffer) + sum(len(run) for run in self._runs)

    def contains_any(self, keys: np.ndarray) -> bool:
        buffer = self._buffer
        if buffer and any(key in buffer for key in keys.tolist()):
            return True
        for run in self._runs:
            found = run[np.minimum(np.searchsorted(run, keys), len(run) - 1)]
            if (found == keys).any():
                return True
        return False

    def add(self, keys: np.ndarray) -> None:
        self._buffer.update(keys.tolist())
        if len(self._buffer) < self._limit:
            return
        run = np.fromiter(self._buffer, dtype=np.uint64, count=len(self._buffer))
        run.sort()
        self._buffer.clear()
        while self._runs and len(self._runs[-1]) <= len(run):
            run = np.concatenate((self._runs.pop(), run))
            run.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
        self._runs.append(run)

    @property
    def nbytes(self) -> int:
        """Bytes held: the runs, plus the buffer set and its int objects."""
        buffer = sys.getsizeof(self._buffer) + sum(sys.getsizeof(key) for key in self._buffer)
        return sum(run.nbytes for run in self._runs) + buffer


class NearDuplicateFilter:
    """Keep the first of each group of near-duplicate texts; count kept and dropped.

    is_duplicate(text) answers and, for a new text, remembers it. filter(items, text=...)
    streams the items whose text is not a near duplicate of an earlier one.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        num_perm: int = DEFAULT_NUM_PERM,
        ngram: int = DEFAULT_NGRAM,
        seed: int = 1,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        # datasketch 2's affine32 permutations h -> a * h + b (mod 2^32), a odd, from the seed
        gen = np.random.RandomState(seed)
        self._a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        self._b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        self.bands, self.rows = optimal_bands(threshold, num_perm)
        # one seed per (band, row) position: a band's hash depends on its number and each value's place
        positions = np.arange(1, self.bands * self.rows + 1, dtype=np.uint64).reshape(self.bands, self.rows)
        self._position_seeds = _fmix64(positions * _POSITION_MIX)
        self._index = BandIndex()
        self.seen = 0
        self.kept = 0
        self.dropped = 0

    def shingle_hashes(self, text: str) -> np.ndarray:
        """The distinct 64-bit hashes of the text's `ngram`-token shingles."""
        blocks = list(self._shingle_blocks(text))
        return np.unique(np.concatenate(blocks)) if blocks else np.zeros(0, dtype=np.uint64)

    def _shingle_blocks(self, text: str) -> Iterator[np.ndarray]:
        """The hashes of the text's shingles, a piece of the text at a time, repeats included (a
        MinHash ignores them; sorting them out costs more). The last ngram - 1 tokens of a piece
        carry over, so the shingles across the cut are there too."""
        carry, produced = np.zeros(0, dtype=np.uint64), False
        for hashes in _token_hashes(text):
            hashes = np.concatenate((carry, hashes))
            if len(hashes) >= self.ngram:
                yield _combine(hashes, self.ngram)
                produced = True
            carry = hashes[len(hashes) - self.ngram + 1:] if len(hashes) >= self.ngram else hashes
        if not produced and len(carry):  # fewer tokens than a shingle: one shingle of them all
            yield _combine(carry, len(carry))

    def signature(self, text: str) -> np.ndarray:
        """The text's MinHash: num_perm uint32 values, equal to datasketch's MinHash(num_perm, seed)
        updated with the low 32 bits of each shingle hash (hashfunc=int)."""
        values = np.full(self.num_perm, _EMPTY, dtype=np.uint32)
        for shingles in self._shingle_blocks(text):
            mixed = _fmix32((shingles & np.uint64(0xFFFFFFFF)).astype(np.uint32))
            for start in range(0, len(mixed), _BLOCK):
                permuted = mixed[start: start + _BLOCK, None] * self._a
                permuted += self._b
                np.minimum(values, permuted.min(axis=0), out=values)
        return values

    def band_hashes(self, signature: np.ndarray) -> np.ndarray:
        """One 64-bit hash per band of `rows` values, its number mixed in so bands never meet.

        Each value is mixed with its position's seed by a bijection (fmix64), and a band's mixed
        values are summed (mod 2^64) and mixed again: a few numpy calls for all bands at once.
        """
        values = signature[: self.bands * self.rows].reshape(self.bands, self.rows).astype(np.uint64)
        return _fmix64(_fmix64(values ^ self._position_seeds).sum(axis=1, dtype=np.uint64))

    def is_duplicate(self, text: str, key: str | None = None) -> bool:
        """True when `text` nearly duplicates an earlier kept text; otherwise keep it.

        `key` is accepted for callers that name their documents; the index needs no names.
        Identical texts need no separate check: their equal signatures collide in every band.
        """
        self.seen += 1
        bands = self.band_hashes(self.signature(text))
        if self._index.contains_any(bands):
            self.dropped += 1
            return True
        self._index.add(bands)
        self.kept += 1
        return False

    def filter(self, items: Iterable[T], text: Callable[[T], str] = str) -> Iterator[T]:
        for item in items:
            if not self.is_duplicate(text(item)):
                yield item

    @property
    def nbytes(self) -> int:
        """Memory of the index of kept documents, in bytes."""
        return self._index.nbytes

    def stats(self) -> dict[str, Any]:
        return {
            "near_duplicates_removed": self.dropped,
            "near_duplicate_checked": self.seen,
            "near_duplicate_threshold": self.threshold,
        }
