"""The tokens gitlm adds to every tokenizer: end of document, padding, structural markers,
and the context tokens (`<FILE:path>`, `<AUTHOR:email>`, ...) the renderers write.

Structural markers are registered as special tokens, so each is always one id. Context
tokens are ordinary text unless they are among the most frequent of a corpus, in which case
the repo-bpe tokenizer adds them as (non-special) tokens; see `select_context_tokens`.
"""

from __future__ import annotations

import re
from collections import Counter

EOS = "<|endoftext|>"  # GPT-2's end-of-text: the document separator in every tokenizer
PAD = "<|pad|>"

# Every structural marker a renderer writes (the README shows where each appears).
MARKERS: tuple[str, ...] = (
    # semantic / hierarchical / diff-aware commit header
    "<COMMIT>", "<AUTHOR>", "<DATE>", "<BRANCH>", "<TAG>", "<MESSAGE>",
    "<FILE_ADD>", "<FILE_MOD>", "<FILE_DEL>", "<FILE_REN>", "<INSERTIONS>", "<DELETIONS>", "<FILES>",
    # hierarchical: the ancestor chain
    "<HISTORY>", "<ANCESTOR>",
    # diff-aware: per-file changes
    "<FROM>", "<DIFF>", "<BINARY>", "<TRUNCATED>",
    # chunks (hybrid format)
    "<COMMIT_START>", "<COMMIT_END>", "<CODE_START>", "<CODE_END>",
)

CONTEXT_KINDS: tuple[str, ...] = ("FILE", "MODULE", "AUTHOR", "CHANGE", "TIMESTAMP")

# Context tokens that may become vocabulary entries: printable ASCII without whitespace or
# angle brackets. Byte-level decoders turn an added token's Latin-1 characters into single
# bytes (so `<FILE:naïve.py>` would not decode back); such tokens stay plain text.
CONTEXT_TOKEN = re.compile(r"<(?:FILE|MODULE|AUTHOR|CHANGE|TIMESTAMP):[!-;=?-~]+>")
_MARKER_OR_CONTEXT = re.compile(r"<[A-Z_]+>|<(?:FILE|MODULE|AUTHOR|CHANGE|TIMESTAMP):[!-;=?-~]+>")
_MARKER_SET = frozenset(MARKERS)


def context_token(kind: str, value: str) -> str:
    """`<KIND:value>`, the form every renderer writes (value as is; may hold any text)."""
    return f"<{kind}:{value}>"


def count_context_tokens(text: str, counter: Counter[str]) -> None:
    """Add the registrable context tokens found in a rendered document to `counter`."""
    counter.update(CONTEXT_TOKEN.findall(text))


def select_context_tokens(counter: Counter[str], limit: int, min_count: int) -> list[str]:
    """The `limit` most frequent context tokens seen at least `min_count` times, most
    frequent first (ties by text, so the choice is reproducible)."""
    ranked = sorted((item for item in counter.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
    return [token for token, _ in ranked[:limit]]


def text_pieces(text: str, added: frozenset[str] | set[str]) -> list[str]:
    """The document cut at its markers and added context tokens, which are dropped.

    BPE training sees only these pieces: `tokenizers` does not exclude added tokens from the
    statistics it trains on, so without this the markers' letters would spend merges.
    """
    pieces: list[str] = []
    start = 0
    for match in _MARKER_OR_CONTEXT.finditer(text):
        token = match.group()
        if token in _MARKER_SET or token in added:
            if match.start() > start:
                pieces.append(text[start:match.start()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def all_special_tokens() -> list[str]:
    """EOS, PAD and the markers, in the order the repo-bpe vocabulary starts with them."""
    return [EOS, PAD, *MARKERS]
