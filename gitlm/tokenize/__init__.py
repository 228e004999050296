"""Phase 3: documents (one per commit or chunk, by strategy) -> tokenizer/ and packed token
memmaps in tokens/. `tokenize_workspace` is the entry point; `render` turns records into
documents on their own (see strategies.py)."""

from gitlm.tokenize.runner import TokenizeStats, epochs_for, tokenize_workspace
from gitlm.tokenize.strategies import STRATEGY_NAMES, Document, render

__all__ = ["STRATEGY_NAMES", "Document", "TokenizeStats", "epochs_for", "render", "tokenize_workspace"]
