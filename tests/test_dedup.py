"""NearDuplicateFilter's compact index against datasketch's MinHashLSH, and its memory per document."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from gitlm.privacy import dedup as dedup_module
from gitlm.privacy.dedup import NearDuplicateFilter, optimal_bands


def _corpus(seed: int = 7) -> list[str]:
    """Random-word documents, each with copies edited at rates from 0 to 50% (some near the threshold), shuffled."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(3000)] + ["é", "ß", "naïve", "K", "x\x1cy", "::", "->", "(", ")"]
    docs = ["", "   ", "x = 1", "X = 1"]
    for length in [rng.randint(5, 400) for _ in range(80)] + [9000, 9000]:  # long ones: signatures in several blocks
        base = [rng.choice(words) for _ in range(length)]
        docs.append(" ".join(base))
        for rate in (0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.5):
            edited = [rng.choice(words) if rng.random() < rate else w for w in base]
            docs.append(" ".join(edited))
    rng.shuffle(docs)
    return docs


def _datasketch_keeps(docs: list[str], dedup: NearDuplicateFilter) -> list[bool]:
    """The decisions of datasketch's MinHash + MinHashLSH on the same shingles (first of a cluster kept)."""
    lsh = MinHashLSH(threshold=dedup.threshold, num_perm=dedup.num_perm)
    keeps = []
    for i, text in enumerate(docs):
        minhash = MinHash(num_perm=dedup.num_perm, seed=dedup.seed, hashfunc=int)
        shingles = dedup.shingle_hashes(text)
        if len(shingles):
            minhash.update_batch((shingles & np.uint64(0xFFFFFFFF)).tolist())
        assert (minhash.hashvalues == dedup.signature(text)).all()
        keep = not lsh.query(minhash)
        if keep:
            lsh.insert(i, minhash)
        keeps.append(keep)
    return keeps


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.85, 128), (0.7, 64)])
def test_decisions_equal_datasketch_minhash_lsh(threshold, num_perm):
    docs = _corpus()
    dedup = NearDuplicateFilter(threshold, num_perm=num_perm)
    ours = [not dedup.is_duplicate(text) for text in docs]
    assert ours == _datasketch_keeps(docs, NearDuplicateFilter(threshold, num_perm=num_perm))
    exact_copies = len(docs) - len(set(docs))
    assert dedup.dropped > exact_copies + 50  # edited copies go too, not only identical ones
    assert dedup.kept > 80 + 80 + 50  # the 50%-edited copies stay, and some of those near the threshold
    assert (dedup.kept, dedup.dropped, dedup.seen) == (sum(ours), len(docs) - sum(ours), len(docs))


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.85, 128), (0.85, 256), (0.7, 64), (0.5, 32), (0.95, 100)])
def test_bands_are_datasketch_optimal_params(threshold, num_perm):
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert optimal_bands(threshold, num_perm) == (lsh.b, lsh.r)


def test_ascii_fast_path_tokens_match_unicode_regex():
    """ASCII text is tokenized in bytes; appending one non-ASCII word sends it down the str path instead."""
    dedup = NearDuplicateFilter()
    every_ascii = "".join(map(chr, range(128)))
    text = " ".join(every_ascii[i:i + 7] for i in range(128))
    fast, slow = set(dedup.shingle_hashes(text).tolist()), set(dedup.shingle_hashes(text + " é").tolist())
    assert len(fast) > 100 and fast < slow and len(slow - fast) == 1  # only the last shingle, which holds "é"
    assert (dedup.shingle_hashes("A \u212a") == dedup.shingle_hashes("a k")).all()  # KELVIN SIGN lower-cases to "k"


@pytest.mark.parametrize("text", [
    "ΟΔΟΣ ΣΑΣ ΣΣ Σ. naïve café x\x1cy " * 40 + "def f(x):\n    return x + 1\n" * 40,
    "a  b\n\nc", "ab", "", "Σ",
])
def test_text_in_pieces_gives_the_shingles_of_the_whole(monkeypatch, text):
    """Long texts are tokenized a piece at a time: tiny pieces must give the same shingles and signature."""
    dedup = NearDuplicateFilter()
    whole, signature = dedup.shingle_hashes(text), dedup.signature(text)
    monkeypatch.setattr(dedup_module, "_PIECE", 1)
    assert (dedup.shingle_hashes(text) == whole).all() and (dedup.signature(text) == signature).all()
    tokens = re.findall(r"\w+|[^\w\s]", text.lower())
    assert len(whole) == (len({tuple(tokens[i:i + 5]) for i in range(len(tokens) - 4)}) or min(1, len(tokens)))


def test_index_memory_per_kept_document_is_bounded():
    rng = random.Random(3)
    dedup = NearDuplicateFilter()
    assert (dedup.bands, dedup.rows) == (8, 16)
    for _ in range(6000):
        dedup.is_duplicate(" ".join(f"t{rng.randrange(10**6)}" for _ in range(12)))
    assert dedup.kept == 6000
    assert dedup.nbytes / dedup.kept < 100  # 8 bands x 8 bytes, plus a fixed buffer of at most 1024 hashes
    assert dedup.nbytes < 8 * dedup.bands * dedup.kept + 100_000
