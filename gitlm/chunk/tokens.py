"""The token estimate every chunk carries, and the chunk budgets in bytes.

Counting with a real tokenizer would need one (the workspace's own BPE is trained later, in
`gitlm tokenize`) and would cost more than the chunking. A fixed ratio is enough to size
chunks: a byte-level BPE trained on a repository (what `gitlm tokenize` builds by default)
measured 3.4-4.1 characters per token on ipython's Python sources (8k vocabulary trained on
flask), GPT-2's BPE 2.3-2.6 (it spends a token on every indentation space). 3.5 sits with
the first.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 3.5


def estimate_tokens(text: str | None) -> int:
    """ceil(len(text) / 3.5); 0 for None or empty text."""
    if not text:
        return 0
    return -(-len(text) * 2 // 7)
