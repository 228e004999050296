"""Near-duplicate removal for training data: MinHash LSH (datasketch) over token shingles.

A document is a near duplicate when the estimated Jaccard similarity of its set of
`ngram`-token shingles with an earlier kept document is at least `threshold`. Defaults
follow BigCode's near-deduplication of The Stack: 5-token shingles, threshold 0.85; 128
permutations (BigCode used 256; 128 halves the time and memory and estimates Jaccard within
about ±0.03 at 0.85). The first document of a cluster is kept, so results follow input order
(gitlm feeds history oldest first: the original survives, later copies go).

Tokens are runs of word characters or single punctuation marks, lower-cased; a document with
fewer than `ngram` tokens is one shingle of all of them, so tiny chunks are de-duplicated
only when they are identical. Shingles are hashed with zlib.crc32 (stable across runs and
processes, unlike hash()), combined per shingle with numpy, and given to MinHash in one
batch. Memory grows with the number of kept documents (about 1 KB each at 128 permutations).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

DEFAULT_THRESHOLD = 0.85
DEFAULT_NUM_PERM = 128
DEFAULT_NGRAM = 5

_TOKEN = re.compile(r"\w+|[^\w\s]")
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-64 prime: mixes a shingle's token hashes


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
        from datasketch import MinHash, MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        self._minhash = MinHash
        template = MinHash(num_perm=num_perm, seed=seed)
        self._permutations = template.permutations
        self._scheme = template.scheme
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._exact: set[bytes] = set()
        self.seen = 0
        self.kept = 0
        self.dropped = 0

    def shingle_hashes(self, text: str) -> np.ndarray:
        """The distinct 64-bit hashes of the text's `ngram`-token shingles."""
        tokens = _TOKEN.findall(text.lower())
        if not tokens:
            return np.zeros(0, dtype=np.uint64)
        hashes = np.fromiter((zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in tokens), dtype=np.uint64, count=len(tokens))
        n = min(self.ngram, len(hashes))
        combined = hashes[: len(hashes) - n + 1].copy()
        for k in range(1, n):
            combined = combined * _MULTIPLIER + hashes[k: len(hashes) - n + 1 + k]
        return np.unique(combined)

    def signature(self, text: str) -> Any:
        """A datasketch MinHash of the text's shingles."""
        minhash = self._minhash(num_perm=self.num_perm, seed=self.seed, hashfunc=int, permutations=self._permutations, scheme=self._scheme)
        shingles = self.shingle_hashes(text)
        if len(shingles):
            minhash.update_batch((shingles & np.uint64(0xFFFFFFFF)).tolist())
        return minhash

    def is_duplicate(self, text: str, key: str | None = None) -> bool:
        """True when `text` nearly duplicates an earlier kept text; otherwise keep it."""
        self.seen += 1
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if digest in self._exact:  # identical text: no need for the sketch
            self.dropped += 1
            return True
        minhash = self.signature(text)
        if self._lsh.query(minhash):
            self.dropped += 1
            return True
        self._lsh.insert(key if key is not None else f"doc{self.seen}", minhash, check_duplication=False)
        self._exact.add(digest)
        self.kept += 1
        return False

    def filter(self, items: Iterable[T], text: Callable[[T], str] = str) -> Iterator[T]:
        for item in items:
            if not self.is_duplicate(text(item)):
                yield item

    def stats(self) -> dict[str, Any]:
        return {
            "near_duplicates_removed": self.dropped,
            "near_duplicate_checked": self.seen,
            "near_duplicate_threshold": self.threshold,
        }
