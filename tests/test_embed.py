"""Embedding, the Qdrant index (embedded and client back ends), search, file relevance,
context and exports — with the real packaged model and real Qdrant engines."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from gitlm.config import GitlmConfig, IndexConfig
from gitlm.embed import SemanticIndex, embed_workspace
from gitlm.embed.encoder import Encoder, default_model_path
from gitlm.embed.exports import iter_points_file
from gitlm.embed.points import NAMESPACE, commit_point_id, path_prefixes
from gitlm.embed.store import open_store
from gitlm.embed.store.server import ServerStore
from gitlm.embed.texts import commit_text
from gitlm.schema import Commit, iter_jsonl
from gitlm.workspace import Workspace
from tests.embed_fixtures import BOB, TOPICS, needs_model, run_cli, scrape_into, scraped_history
from tests.gitrepo import GitRepo

pytestmark = needs_model

SETTLE = TOPICS[0][0]
N_COMMITS = len(TOPICS) + 2


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(threads=2)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """(repo, hashes, workspace with commits.jsonl + chunks.jsonl, embedded by the CLI once)."""
    return scraped_history(tmp_path_factory.mktemp("embed"))


@pytest.fixture(scope="module")
def embedded(history, encoder):
    """The history embedded once into its workspace's embedded index."""
    _, _, workspace = history
    stats = embed_workspace(workspace, GitlmConfig(), encoder=encoder)
    return workspace, stats


def test_commit_text_leads_with_the_subject(history):
    _, hashes, workspace = history
    commits = {c.hash: c for c in iter_jsonl(workspace.path("commits.jsonl"), Commit)}
    rename = commits[hashes["Rename the pool module to connections"]]
    assert commit_text(rename) == (
        "Rename the pool module to connections\n"
        "Renamed: src/db/pool.py -> src/db/connections.py\n"
        "Author: Bob Builder\n"
        "Branch: main\n"
        "Changes: Files changed: 1, Insertions: +0, Deletions: -0"
    )


def test_first_embed_encodes_everything_and_writes_exports(embedded):
    workspace, stats = embedded
    assert (stats.commits.total, stats.commits.encoded, stats.commits.already_indexed) == (N_COMMITS, N_COMMITS, 0)
    assert (stats.chunks.total, stats.chunks.encoded) == (2, 2)
    assert stats.commits.indexed_points == N_COMMITS and stats.dim == 384 and stats.model == "all-MiniLM-L6-v2"
    assert stats.main_branch == "main" and stats.mainline_commits == N_COMMITS
    lines = [json.loads(line) for line in workspace.path("embeddings/commits.jsonl").read_text().splitlines()]
    assert [line["subject"] for line in lines[: len(TOPICS)]] == [t[0] for t in TOPICS]
    assert all(len(line["vector"]) == 384 for line in lines)
    assert lines[0]["id"] == str(uuid.uuid5(NAMESPACE, f"commit:{lines[0]['commit_hash']}"))
    points = json.loads(workspace.path("embeddings/qdrant_points.json").read_text())
    assert len(points) == N_COMMITS + 2 and set(points[0]) == {"id", "vector", "payload"}
    assert [p["payload"]["kind"] for p in points].count("chunk") == 2
    phase = json.loads(workspace.path("MANIFEST.json").read_text())["phases"]["embed"]
    assert phase["status"] == "completed" and phase["stats"]["commits"]["encoded"] == N_COMMITS
    assert phase["outputs"] == ["index/", "embeddings/commits.jsonl", "embeddings/chunks.jsonl", "embeddings/qdrant_points.json"]


def test_payload_has_the_documented_keys(embedded):
    workspace, _ = embedded
    line = json.loads(workspace.path("embeddings/commits.jsonl").read_text().splitlines()[0])
    for key in ("commit_hash", "author", "email", "message", "files_modified", "files_added", "files_deleted",
                "insertions", "deletions", "timestamp", "branch"):
        assert key in line, key
    assert line["files_added"] == ["src/market/settlement.py"]
    assert line["paths"] == ["src", "src/market", "src/market/settlement.py"]
    assert path_prefixes(["a/b/c.py", "a/d.py"]) == ["a", "a/b", "a/b/c.py", "a/d.py"]


def test_paraphrased_query_finds_the_planted_commit_first(embedded, encoder):
    workspace, _ = embedded
    with SemanticIndex.open(workspace, encoder=encoder) as index:
        results = index.search("computing how electricity trades are cleared and paid", top_k=3)
        assert results[0]["subject"] == SETTLE
        assert results[0]["score"] > results[1]["score"]
        login = index.search("users cannot sign in because their passphrase is rejected", top_k=1)
        assert login[0]["subject"] == "Fix login form password validation"


def test_filters_narrow_results(embedded, encoder, history):
    workspace, _ = embedded
    _, hashes, _ = history
    with SemanticIndex.open(workspace, encoder=encoder) as index:
        by_bob = index.search("change", top_k=20, author=BOB[0])
        assert sorted(r["subject"] for r in by_bob) == sorted([
            "Fix login form password validation", "Speed up database connection pooling", "Rename the pool module to connections"])
        assert [r["author"] for r in index.search("change", top_k=20, author=BOB[1])] == [BOB[0]] * 3
        under_db = index.search("change", top_k=20, path_prefix="./src/db/")
        assert sorted(r["short_hash"] for r in under_db) == sorted(
            [hashes["Speed up database connection pooling"][:7], hashes["Rename the pool module to connections"][:7]])
        assert index.search("change", top_k=20, path_prefix="src/d") == []  # whole components only
        # commit i (1-based) is dated BASE_TIME + i hours: since/until select commits 3..4
        window = index.search("change", top_k=20, since="2023-11-15T01:13:20Z", until="2023-11-15T02:13:20+00:00")
        assert sorted(r["subject"] for r in window) == sorted([TOPICS[2][0], TOPICS[3][0]])
        chunks = index.search("sum of price times volume", top_k=2, kind="chunks")
        assert chunks[0]["function_name"] == "settle" and chunks[0]["file_path"] == "src/market/settlement.py"
        assert chunks[0]["change_type"] == "new_function" and "def settle" in chunks[0]["code"]
        assert [c["function_name"] for c in index.search("check", top_k=5, kind="chunks", author=BOB[0])] == ["check"]


def test_second_embed_encodes_nothing_then_only_the_new_commit(history, embedded, encoder, tmp_path, monkeypatch):
    original, _, embedded_ws = history
    repo = GitRepo(tmp_path / "repo", original.env, init=False)
    shutil.copytree(original.path, repo.path)
    repo.tick = original.tick
    workspace = Workspace(tmp_path / "ws")
    shutil.copytree(embedded_ws.root, workspace.root)
    again = embed_workspace(workspace, GitlmConfig(), encoder=encoder)
    assert (again.commits.encoded, again.commits.already_indexed, again.chunks.encoded) == (0, N_COMMITS, 0)
    assert again.commits.indexed_points == N_COMMITS and not again.exports_written
    repo.write("src/market/settlement.py", "def settle(trades):\n    return round(sum(t.price * t.volume for t in trades), 2)\n")
    repo.commit("Round settlement amounts to cents")
    scrape_into(repo, workspace.root)
    import gitlm.embed.pipeline as pipeline

    rewrite = pipeline._write_exports
    monkeypatch.setattr(pipeline, "_write_exports", lambda *a: pytest.fail("the exports were rewritten, not extended"))
    more = embed_workspace(workspace, GitlmConfig(), encoder=encoder)
    monkeypatch.setattr(pipeline, "_write_exports", rewrite)
    assert (more.commits.encoded, more.commits.already_indexed, more.commits.indexed_points) == (1, N_COMMITS, N_COMMITS + 1)
    assert more.exports_written
    assert len(workspace.path("embeddings/commits.jsonl").read_text().splitlines()) == N_COMMITS + 1
    # the exports were extended, not rewritten: they equal a full export of the same index
    extended = {name: workspace.path(f"embeddings/{name}").read_bytes()
                for name in ("commits.jsonl", "chunks.jsonl", "qdrant_points.json")}
    for name in extended:
        workspace.path(f"embeddings/{name}").unlink()
    rewritten = embed_workspace(workspace, GitlmConfig(), encoder=encoder)
    assert rewritten.exports_written and rewritten.encoded == 0
    for name, data in extended.items():
        assert workspace.path(f"embeddings/{name}").read_bytes() == data, name
    assert "appended" not in json.dumps(more.as_dict())


def test_points_leaving_the_input_are_removed(tmp_path, history, encoder):
    _, hashes, workspace = history
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(workspace.root, copy.root)
    embed_workspace(copy, GitlmConfig(), encoder=encoder)
    lines = copy.path("commits.jsonl").read_bytes().splitlines(keepends=True)
    copy.path("commits.jsonl").write_bytes(b"".join(lines[:-1]))  # the newest commit is gone
    stats = embed_workspace(copy, GitlmConfig(), encoder=encoder)
    assert (stats.commits.removed, stats.commits.encoded, stats.commits.indexed_points) == (1, 0, len(lines) - 1)


def test_files_follow_renames_and_drop_deleted_files(embedded, encoder):
    workspace, _ = embedded
    with SemanticIndex.open(workspace, encoder=encoder) as index:
        ranked = index.related_files("make the database connection pool faster", top_k=5)
        assert ranked[0]["path"] == "src/db/connections.py"  # pool.py was renamed; its votes moved
        assert all(f["path"] != "src/db/pool.py" for f in ranked)
        assert ranked[0]["commits"] == 2 and 0 < ranked[0]["score"] <= 1
        docs = index.related_files("installation instructions in the readme", top_k=10)
        assert all(f["path"] != "README.md" for f in docs)  # deleted by the newest commit
        assert index.related_files("settle energy market trades", top_k=1)[0]["path"] == "src/market/settlement.py"


def test_context_is_markdown_within_the_budget(embedded, encoder):
    workspace, _ = embedded
    with SemanticIndex.open(workspace, encoder=encoder) as index:
        result = index.context("settle energy market trades", max_tokens=600)
        small = index.context("settle energy market trades", max_tokens=120)
    md = result["markdown"]
    assert md.startswith("# Repository context for: settle energy market trades\n")
    for title in ("## Relevant commits", "## Relevant code", "## Likely files", "## Recent activity by area"):
        assert title in md, title
    assert "```\ndef settle(trades):" in md and "`src/market/settlement.py`" in md
    assert result["tokens"] <= 600 and small["tokens"] <= 120
    assert small["sections"]["commits"] >= 1 and small["sections"]["code"] == 0


def test_points_file_loads_into_a_fresh_index_with_identical_results(embedded, encoder, tmp_path, capsys, monkeypatch):
    workspace, _ = embedded
    points = workspace.path("embeddings/qdrant_points.json")
    fresh = tmp_path / "fresh"
    code, out, err = run_cli(capsys, monkeypatch, "index", "load", str(points), "--workspace", str(fresh))
    assert code == 0, err
    assert out == f"loaded {N_COMMITS} commit and 2 chunk points into {fresh / 'index'}\n"
    query = "database connections"
    with SemanticIndex.open(workspace, encoder=encoder) as a, SemanticIndex.open(Workspace(fresh), encoder=encoder) as b:
        for kind in ("commits", "chunks"):
            left, right = a.search(query, top_k=10, kind=kind), b.search(query, top_k=10, kind=kind)
            assert [r["id"] for r in left] == [r["id"] for r in right]
            assert [r["score"] for r in left] == pytest.approx([r["score"] for r in right], abs=1e-6)
        assert a.counts() == b.counts()


def test_points_file_in_any_json_layout(tmp_path):
    path = tmp_path / "points.json"
    path.write_text(json.dumps([{"id": 7, "vector": [0.5, 0.5], "payload": {"kind": "commit"}},
                                {"id": "x", "vector": [1.0, 0.0]}], indent=4))
    points = list(iter_points_file(path))
    assert [(p.id, p.vector, p.payload) for p in points] == [(7, [0.5, 0.5], {"kind": "commit"}), ("x", [1.0, 0.0], {})]


def test_server_back_end_through_qdrant_client(history, encoder, tmp_path):
    """The qdrant-client path (a server in production) against its local mode."""
    _, _, workspace = history
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(workspace.root, copy.root, ignore=shutil.ignore_patterns("index", "embeddings"))
    config = GitlmConfig(index=IndexConfig(qdrant_path=tmp_path / "qdrant", collection_prefix="demo"))
    first = embed_workspace(copy, config, encoder=encoder)
    assert first.commits.encoded == first.commits.total and first.store.startswith("server")
    second = embed_workspace(copy, config, encoder=encoder)
    assert second.commits.encoded == 0 and second.commits.indexed_points == first.commits.total
    with SemanticIndex.open(copy, config, encoder=encoder) as index:
        assert isinstance(index.store, ServerStore) and index.store.collection("commits") == "demo_commits"
        assert index.search("computing how electricity trades are cleared and paid", top_k=1)[0]["subject"] == SETTLE
        assert [r["author"] for r in index.search("change", top_k=20, author=BOB[1])] == [BOB[0]] * 3
        assert index.related_files("make the database connection pool faster", top_k=1)[0]["path"] == "src/db/connections.py"


def test_changing_the_model_rebuilds_the_index(history, encoder, tmp_path):
    _, _, workspace = history
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(workspace.root, copy.root)
    other = tmp_path / "model-copy"
    shutil.copytree(default_model_path(), other)
    (other / "README.md").write_text("a different model card\n")
    stats = embed_workspace(copy, GitlmConfig.model_validate({"embed": {"model": str(other)}}))
    assert stats.commits.rebuilt and stats.commits.encoded == stats.commits.total
    meta = open_store(copy).meta("commits")
    assert meta is not None and meta.model_path == str(other.resolve())


def test_cli_embed_search_files_context(history, tmp_path, capsys, monkeypatch):
    _, hashes, workspace = history
    ws = tmp_path / "ws"
    shutil.copytree(workspace.root, ws, ignore=shutil.ignore_patterns("index", "embeddings"))
    code, out, err = run_cli(capsys, monkeypatch, "embed", "--workspace", str(ws), "--threads", "2")
    assert code == 0, err
    assert out.startswith(f"embedded {N_COMMITS} commits and 2 chunks (")
    assert f"index: embedded ({ws / 'index'}): {N_COMMITS} commits, 2 chunks (all-MiniLM-L6-v2, 384-d)" in out
    code, out, err = run_cli(capsys, monkeypatch, "search", "electricity trade clearing", "--workspace", str(ws), "--json", "-k", "2")
    assert code == 0, err
    results = json.loads(out)
    assert results[0]["commit_hash"] == hashes[SETTLE] and len(results) == 2
    code, out, err = run_cli(capsys, monkeypatch, "search", "electricity trade clearing", "--workspace", str(ws))
    assert code == 0 and out.splitlines()[0].split() == ["score", "commit", "date", "author", "subject"]
    assert out.splitlines()[1].split()[1:3] == [hashes[SETTLE][:7], "2023-11-14"]
    code, out, err = run_cli(capsys, monkeypatch, "files", "database pool", "--workspace", str(ws), "--json", "--top-k", "1")
    assert code == 0 and json.loads(out)[0]["path"] == "src/db/connections.py"
    code, out, err = run_cli(capsys, monkeypatch, "context", "database pool", "--workspace", str(ws), "--max-tokens", "300")
    assert code == 0 and out.startswith("# Repository context for: database pool\n")
    code, out, err = run_cli(capsys, monkeypatch, "search", "x", "--workspace", str(ws), "--since", "yesterday")
    assert (code, err) == (2, "error: since 'yesterday' is not an ISO date or date-time (e.g. 2024-01-31 or 2024-01-31T12:00:00+02:00)\n")
    code, out, err = run_cli(capsys, monkeypatch, "search", "x", "--workspace", str(ws), "--kind", "files")
    assert (code, err) == (2, "error: kind must be commits or chunks (got 'files')\n")


def test_missing_index_says_what_to_run(history, tmp_path, capsys, monkeypatch):
    _, _, workspace = history
    ws = tmp_path / "ws"
    shutil.copytree(workspace.root, ws, ignore=shutil.ignore_patterns("index", "embeddings"))
    code, out, err = run_cli(capsys, monkeypatch, "search", "anything", "--workspace", str(ws))
    assert (code, err) == (1, f"error: no commits index at {ws / 'index'}; run `gitlm embed` first\n")
    code, out, err = run_cli(capsys, monkeypatch, "embed", "--workspace", str(tmp_path / "nowhere"))
    assert code == 2 and "does not exist" in err


def test_point_ids_are_deterministic():
    assert commit_point_id("a" * 40) == commit_point_id("a" * 40) == str(uuid.uuid5(NAMESPACE, "commit:" + "a" * 40))


def test_end_to_end_with_the_real_chunker(history, tmp_path, capsys, monkeypatch):
    pytest.importorskip("gitlm.chunk", reason="the chunker is not in this checkout")
    _, hashes, workspace = history
    ws = tmp_path / "ws"
    shutil.copytree(workspace.root, ws, ignore=shutil.ignore_patterns("index", "embeddings", "chunks.jsonl"))
    code, out, err = run_cli(capsys, monkeypatch, "chunk", "--workspace", str(ws))
    assert code == 0, err
    chunks = (ws / "chunks.jsonl").read_text().splitlines()
    code, out, err = run_cli(capsys, monkeypatch, "embed", "--workspace", str(ws), "--json")
    assert code == 0, err
    assert json.loads(out)["chunks"]["encoded"] == len(chunks) > 0
    code, out, err = run_cli(capsys, monkeypatch, "search", "sum of price times volume", "--kind", "chunks",
                             "--workspace", str(ws), "--json", "-k", "1")
    hit = json.loads(out)[0]
    assert (hit["file_path"], hit["function_name"], hit["commit_hash"]) == ("src/market/settlement.py", "settle", hashes[SETTLE])
