"""Phase 5: embeddings, the Qdrant index, search, file relevance and LLM context.

    from gitlm.embed import embed_workspace, SemanticIndex
    stats = embed_workspace(Workspace("gitlm-out/flask"))          # incremental
    with SemanticIndex.open(Workspace("gitlm-out/flask")) as index:
        index.search("fix cookie handling", top_k=5)               # [{score, short_hash, subject, ...}]
        index.related_files("add async views", top_k=10)           # [{path, score, commits, ...}]
        index.context("add async views", max_tokens=2000)["markdown"]
"""

from gitlm.embed.encoder import Encoder, ModelInfo, default_model_path
from gitlm.embed.pipeline import EmbedStats, embed_workspace
from gitlm.embed.search import SemanticIndex
from gitlm.embed.store import IndexMissingError, SearchFilter, VectorStore, open_store

__all__ = [
    "EmbedStats", "Encoder", "IndexMissingError", "ModelInfo", "SearchFilter", "SemanticIndex", "VectorStore",
    "default_model_path", "embed_workspace", "open_store",
]
