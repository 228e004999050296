"""The HTTP API: through FastAPI's TestClient, and once through a real uvicorn process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from gitlm.config import GitlmConfig, ServeConfig
from gitlm.embed import SemanticIndex, embed_workspace
from gitlm.embed.encoder import Encoder
from gitlm.serve import create_app
from gitlm.workspace import Workspace
from tests.embed_fixtures import TOPICS, needs_model, scraped_history

pytestmark = needs_model

KEY = "s3cret-key"
SETTLE = TOPICS[0][0]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(workspace with an embedded index, a TestClient on it that requires KEY)."""
    _, hashes, workspace = scraped_history(tmp_path_factory.mktemp("serve"))
    encoder = Encoder(threads=2)
    embed_workspace(workspace, GitlmConfig(), encoder=encoder)
    config = GitlmConfig(serve=ServeConfig(api_key=KEY))
    index = SemanticIndex.open(workspace, config, encoder=encoder)
    with TestClient(create_app(workspace, config, index=index)) as client:
        client.headers["X-API-Key"] = KEY
        yield workspace, hashes, client


def test_healthz_reports_the_index(served):
    workspace, _, client = served
    body = client.get("/healthz", headers={"X-API-Key": ""}).json()  # no key needed
    assert body["status"] == "ok" and body["index"]["commits"] == len(TOPICS) + 2 and body["index"]["chunks"] == 2
    assert body["index"]["backend"] == "embedded" and body["index_error"] is None and body["generate"] is False


def test_search_files_context(served):
    _, hashes, client = served
    response = client.post("/search", json={"query": "computing how electricity trades are cleared and paid", "top_k": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["query"].startswith("computing") and body["kind"] == "commits" and len(body["results"]) == 2
    first = body["results"][0]
    assert (first["subject"], first["commit_hash"], first["author"]) == (SETTLE, hashes[SETTLE], "Ada Lovelace")
    assert set(first) >= {"score", "id", "short_hash", "date", "timestamp", "files", "branch"}
    filtered = client.post("/search", json={"query": "change", "top_k": 20, "author": "bob@example.com", "path_prefix": "src/db"}).json()
    assert sorted(r["subject"] for r in filtered["results"]) == ["Rename the pool module to connections", "Speed up database connection pooling"]
    chunks = client.post("/search", json={"query": "sum of price times volume", "top_k": 1, "kind": "chunks"}).json()
    assert chunks["results"][0]["function_name"] == "settle"
    files = client.post("/files", json={"query": "make the database connection pool faster", "top_k": 3}).json()
    assert files["files"][0]["path"] == "src/db/connections.py"
    context = client.post("/context", json={"query": "settle energy market trades", "max_tokens": 500}).json()
    assert context["markdown"].startswith("# Repository context for: settle energy market trades\n") and context["tokens"] <= 500


def test_bad_requests_get_422_with_a_message(served):
    _, _, client = served
    missing = client.post("/search", json={"top_k": 3})
    assert missing.status_code == 422 and missing.json()["detail"] == "query: Field required"
    zero = client.post("/search", json={"query": "x", "top_k": 0})
    assert zero.status_code == 422 and zero.json()["detail"] == "top_k: Input should be greater than or equal to 1"
    kind = client.post("/search", json={"query": "x", "kind": "files"})
    assert kind.status_code == 422 and kind.json()["detail"].startswith("kind: Input should be 'commits' or 'chunks'")
    date = client.post("/search", json={"query": "x", "since": "last week"})
    assert date.status_code == 422 and date.json()["detail"].startswith("since 'last week' is not an ISO date")
    extra = client.post("/files", json={"query": "x", "topk": 3})
    assert extra.status_code == 422 and extra.json()["detail"] == "topk: Extra inputs are not permitted"
    blank = client.post("/search", json={"query": "   "})
    assert blank.status_code == 422 and blank.json()["detail"] == "the query is empty"


def test_api_key_is_required(served):
    _, _, client = served
    assert client.post("/search", json={"query": "x"}, headers={"X-API-Key": ""}).status_code == 401
    wrong = client.post("/search", json={"query": "x"}, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"].startswith("missing or wrong API key")
    bearer = client.post("/search", json={"query": "x", "top_k": 1}, headers={"X-API-Key": "", "Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200


def test_generate_without_a_model_is_503_with_what_to_run(served):
    workspace, _, client = served
    response = client.post("/generate", json={"prompt": "def ", "max_new_tokens": 4})
    assert response.status_code == 503
    assert response.json()["detail"] == f"no trained model in {workspace.root / 'model'}; run `gitlm train` first"


def test_missing_index_is_503_with_what_to_run(tmp_path):
    empty = Workspace(tmp_path / "empty")
    empty.create()
    with TestClient(create_app(empty, GitlmConfig(), warm=False)) as client:
        response = client.post("/search", json={"query": "anything"})
        assert response.status_code == 503
        assert response.json() == {"detail": f"no commits index at {empty.root / 'index'}; run `gitlm embed` first"}
        health = client.get("/healthz").json()
        assert health["index"] is None and health["index_error"].startswith("no commits index")
        assert client.get("/openapi.json").json()["paths"].keys() >= {"/search", "/files", "/context", "/generate", "/healthz"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_uvicorn_process_on_loopback(served, tmp_path):
    workspace, hashes, _ = served
    copy = tmp_path / "ws"  # the TestClient's app holds the original index open
    shutil.copytree(workspace.root, copy)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitlm", "serve", "--host", "127.0.0.1", "--port", str(port), "--workspace", str(copy),
         "--api-key", KEY], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up in 120 s"
                time.sleep(0.3)
        assert health.status_code == 200 and health.json()["index"]["commits"] == len(TOPICS) + 2
        response = httpx.post(f"{base}/search", json={"query": "electricity trade clearing", "top_k": 1},
                              headers={"X-API-Key": KEY}, timeout=60)
        assert response.status_code == 200 and response.json()["results"][0]["commit_hash"] == hashes[SETTLE]
        assert httpx.post(f"{base}/search", json={"query": "x"}, timeout=10).status_code == 401
        assert httpx.get(f"{base}/docs", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status says what stopped it
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output and "Application shutdown complete." in output


def test_generate_with_a_trained_model(tmp_path):
    """/generate answers from <workspace>/model once one exists (a tiny random GPT-2 here)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from tests.trainkit import train_tokenizer

    workspace = Workspace(tmp_path / "ws")
    workspace.create()
    tokenizer = train_tokenizer(["def settle(trades):\n    return sum(trades)\n"] * 20, vocab_size=300)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2,
                                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(workspace.path("model"))
    tokenizer.save_pretrained(workspace.path("model"))
    with TestClient(create_app(workspace, GitlmConfig(), warm=False)) as client:
        assert client.get("/healthz").json()["generate"] is True
        response = client.post("/generate", json={"prompt": "def ", "max_new_tokens": 5, "temperature": 0})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["prompt"] == "def " and len(body["generations"]) == 1
        generation = body["generations"][0]
        assert generation["text"] == "def " + generation["completion"] and 1 <= generation["new_tokens"] <= 5
        bad = client.post("/generate", json={"prompt": "def ", "top_p": 0})
        assert bad.status_code == 422 and bad.json()["detail"] == "top_p: Input should be greater than 0"
