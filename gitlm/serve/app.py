"""The HTTP API: FastAPI over one SemanticIndex (and the workspace model for /generate).

POST /search, /files, /context, /generate take and return JSON (shapes in README, schema at
/openapi.json, try-it pages at /docs); GET /healthz says whether the index and the model are
there. Errors are `{"detail": "<one line>"}`: 401 without the API key (when one is set), 422
for a bad request, 503 with what to run when the index or the model does not exist yet.
"""

from __future__ import annotations

import hmac
import threading
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from gitlm import __version__
from gitlm.config import GitlmConfig
from gitlm.embed.search import MAX_TOP_K, SemanticIndex
from gitlm.embed.store import IndexMissingError
from gitlm.errors import BadInputError, GitlmError
from gitlm.workspace import Workspace


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchBody(_Body):
    query: str = Field(..., min_length=1, description="What to look for, in plain words.")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    kind: Literal["commits", "chunks"] = "commits"
    author: str | None = Field(None, description="Exact author name or e-mail.")
    path_prefix: str | None = Field(None, description="A file or directory (whole path components).")
    since: str | None = Field(None, description="ISO date or date-time (UTC when no offset), inclusive.")
    until: str | None = Field(None, description="ISO date or date-time (UTC when no offset), inclusive.")


class FilesBody(_Body):
    query: str = Field(..., min_length=1, description="The task, in plain words.")
    top_k: int = Field(10, ge=1, le=MAX_TOP_K)
    neighbours: int = Field(50, ge=1, le=MAX_TOP_K, description="How many similar commits vote.")


class ContextBody(_Body):
    query: str = Field(..., min_length=1, description="The task, in plain words.")
    max_tokens: int = Field(2000, ge=64, le=200_000, description="Token budget (characters / 4).")


class GenerateBody(_Body):
    prompt: str = Field(..., description="Text to continue.")
    max_new_tokens: int = Field(64, ge=1, le=4096)
    temperature: float = Field(0.8, ge=0.0, le=10.0, description="0 decodes greedily.")
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    num_return_sequences: int = Field(1, ge=1, le=16)
    seed: int | None = None


class IndexHolder:
    """Opens the index on first use and keeps it; a missing index is retried next time."""

    def __init__(self, workspace: Workspace | None, config: GitlmConfig, index: SemanticIndex | None = None):
        self.workspace = workspace
        self.config = config
        self._index = index
        self._lock = threading.Lock()

    def get(self) -> SemanticIndex:
        with self._lock:
            if self._index is None:
                self._index = SemanticIndex.open(self.workspace, self.config)
            return self._index

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None


def create_app(workspace: Workspace | None, config: GitlmConfig | None = None, *, index: SemanticIndex | None = None,
               warm: bool = True) -> FastAPI:
    """The API over `index`, or over the index `config` names for `workspace` (opened lazily)."""
    config = config or GitlmConfig()
    holder = IndexHolder(workspace, config, index)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:  # load the index and the model now, so the first request is not the slow one
            try:
                holder.get().encoder()
            except GitlmError:
                pass  # reported by /healthz and answered 503 until it exists
        yield
        holder.close()

    app = FastAPI(
        title="gitlm", version=__version__, lifespan=lifespan,
        description="Semantic search over a git repository's history, file relevance, LLM context and generation.",
    )
    app.state.holder = holder
    require_key = _key_check(config.serve.api_key)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        message = "; ".join(f"{'.'.join(p['loc'][1:] or p['loc'])}: {p['msg']}" for p in problems) or "invalid request"
        return JSONResponse(status_code=422, content={"detail": message, "errors": problems})

    @app.exception_handler(IndexMissingError)
    async def _missing(request: Request, exc: IndexMissingError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(BadInputError)
    async def _bad(request: Request, exc: BadInputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(GitlmError)
    async def _failed(request: Request, exc: GitlmError) -> JSONResponse:
        return JSONResponse(status_code=500, content={"detail": str(exc)})

    @app.get("/healthz", summary="Liveness, and whether the index and the model are there")
    def healthz() -> dict[str, Any]:
        index: dict[str, Any] | None = None
        problem = None
        try:
            opened = holder.get()
            index = {"backend": opened.store.backend, "location": opened.store.location, **opened.counts()}
        except GitlmError as exc:
            problem = str(exc)
        return {"status": "ok", "version": __version__, "index": index, "index_error": problem,
                "generate": _model_problem(workspace) is None}

    @app.post("/search", dependencies=[Depends(require_key)], summary="Commits or code chunks nearest to a query")
    def search(body: SearchBody) -> dict[str, Any]:
        results = holder.get().search(body.query, top_k=body.top_k, kind=body.kind, author=body.author,
                                      path_prefix=body.path_prefix, since=body.since, until=body.until)
        return {"query": body.query, "kind": body.kind, "results": results}

    @app.post("/files", dependencies=[Depends(require_key)], summary="Files a task will likely touch")
    def files(body: FilesBody) -> dict[str, Any]:
        return {"query": body.query, "files": holder.get().related_files(body.query, top_k=body.top_k, neighbours=body.neighbours)}

    @app.post("/context", dependencies=[Depends(require_key)], summary="A Markdown context block for an LLM prompt")
    def context(body: ContextBody) -> dict[str, Any]:
        return holder.get().context(body.query, max_tokens=body.max_tokens)

    @app.post("/generate", dependencies=[Depends(require_key)], summary="Continue a prompt with the trained model")
    def generate(body: GenerateBody) -> dict[str, Any]:
        problem = _model_problem(workspace)
        if problem is not None:
            raise HTTPException(status_code=503, detail=problem)
        from gitlm.train import generate as run_generate

        outputs = run_generate(body.prompt, workspace=workspace.root if workspace else None,
                               max_new_tokens=body.max_new_tokens, temperature=body.temperature, top_p=body.top_p,
                               num_return_sequences=body.num_return_sequences, seed=body.seed)
        return {"prompt": body.prompt, "generations": [g.as_dict() for g in outputs]}

    return app


def _model_problem(workspace: Workspace | None) -> str | None:
    """None when the workspace has a trained model, else what to run."""
    if workspace is None:
        return "no workspace, so no trained model: start the server with --workspace DIR after `gitlm train`"
    model = workspace.path("model")
    if not (model / "config.json").is_file():
        return f"no trained model in {model}; run `gitlm train` first"
    return None


def _key_check(api_key: str | None):
    """A dependency that accepts X-API-Key: KEY or Authorization: Bearer KEY (when a key is set)."""
    header = APIKeyHeader(name="X-API-Key", auto_error=False)
    bearer = HTTPBearer(auto_error=False)

    def check(key: str | None = Depends(header), token: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if api_key is None:
            return
        given = key or (token.credentials if token is not None else None)
        if given is None or not hmac.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong API key (send X-API-Key or Authorization: Bearer)",
                                headers={"WWW-Authenticate": "Bearer"})

    return check
