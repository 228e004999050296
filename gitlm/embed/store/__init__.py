"""Qdrant stores behind one interface: embedded (qdrant-edge-py, default) or a server."""

from __future__ import annotations

import re

from gitlm.config import IndexConfig
from gitlm.embed.store.base import (
    CollectionMeta, Hit, IndexMissingError, SearchFilter, StoredPoint, VectorStore,
)
from gitlm.workspace import Workspace

INDEX_DIR = "index"


def default_prefix(workspace: Workspace | None) -> str:
    """gitlm_<repository name> (from MANIFEST.json), Qdrant-safe; "gitlm" when unknown."""
    name = None
    if workspace is not None and workspace.root.is_dir():
        name = (workspace.read_manifest().get("repository") or {}).get("name")
        name = name or workspace.root.name
    if not name:
        return "gitlm"
    return "gitlm_" + re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")


def open_store(workspace: Workspace | None, config: IndexConfig | None = None) -> VectorStore:
    """The store `config` names: a server (qdrant_url), qdrant-client local mode
    (qdrant_path), else the embedded index in <workspace>/index/."""
    config = config or IndexConfig()
    if config.qdrant_url or config.qdrant_path:
        from gitlm.embed.store.server import ServerStore

        prefix = config.collection_prefix or default_prefix(workspace)
        return ServerStore.connect(config.qdrant_url, config.qdrant_api_key, prefix,
                                   str(config.qdrant_path) if config.qdrant_path else None)
    if workspace is None:
        raise IndexMissingError("no workspace given for the embedded index; pass --workspace or --qdrant-url")
    from gitlm.embed.store.edge import EdgeStore

    return EdgeStore(workspace.path(INDEX_DIR))


__all__ = [
    "CollectionMeta", "Hit", "IndexMissingError", "SearchFilter", "StoredPoint", "VectorStore",
    "default_prefix", "open_store",
]
