"""`gitlm serve`: the HTTP API (search, files, context, generate) over uvicorn."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, err
from gitlm.commands.embed import (
    DeviceOption, ModelOption, PrefixOption, QdrantKeyOption, QdrantUrlOption, index_overrides, index_workspace,
)
from gitlm.config import load_config


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option("--host", help="Address to bind (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="TCP port (default: 8321).")] = None,
    api_key: Annotated[Optional[str], typer.Option("--api-key", envvar="GITLM_API_KEY", help="Require this key (X-API-Key or Authorization: Bearer) (or $GITLM_API_KEY).")] = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    qdrant_url: QdrantUrlOption = None,
    qdrant_api_key: QdrantKeyOption = None,
    collection_prefix: PrefixOption = None,
    workspace: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Serve POST /search, /files, /context, /generate, GET /healthz and the OpenAPI docs (/docs)."""
    from gitlm.serve import run_server

    overrides = index_overrides(model, qdrant_url, qdrant_api_key, collection_prefix, device)
    overrides["serve"] = {"host": host, "port": port, "api_key": api_key}
    config = load_config(config_file, overrides)
    ws = index_workspace(workspace, config)
    if config.serve.host not in ("127.0.0.1", "localhost", "::1") and not config.serve.api_key:
        err.print(f"[yellow]warning:[/] serving on {config.serve.host} without an API key: anyone who can reach it can query the index")
    run_server(ws, config)
