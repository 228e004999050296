"""The HTTP API (`gitlm serve`): FastAPI app factory and a uvicorn runner."""

from __future__ import annotations

from gitlm.config import GitlmConfig
from gitlm.workspace import Workspace


def create_app(*args, **kwargs):
    from gitlm.serve.app import create_app as _create

    return _create(*args, **kwargs)


def run_server(workspace: Workspace | None, config: GitlmConfig) -> None:
    """Serve the API with uvicorn until interrupted (Ctrl-C or SIGTERM stop it cleanly)."""
    import uvicorn

    from gitlm.serve.app import create_app as _create

    app = _create(workspace, config)
    uvicorn.run(app, host=config.serve.host, port=config.serve.port, log_level="info", access_log=True)


__all__ = ["create_app", "run_server"]
