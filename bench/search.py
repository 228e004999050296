"""Benchmark search: latency and index build of the embedded Qdrant store (b), and the
quality of file relevance on a real repository with a temporal hold-out (c).

    .venv/bin/gitlm scrape bench/.work/pallets-flask.git --out /tmp/bench-flask
    .venv/bin/gitlm embed --workspace /tmp/bench-flask --no-chunks
    .venv/bin/python bench/search.py latency /tmp/bench-flask [--sizes 10000 100000] [--uniform 10000]
    .venv/bin/python bench/search.py quality /tmp/bench-flask [--holdout 0.1]

latency: 384-d unit vectors with gitlm-shaped payloads go through gitlm's EdgeStore: upsert
time, index build time (`finish`: Qdrant's optimizers build the HNSW graph), then store
query latency p50/p95 (top 10, gitlm's hnsw_ef) over held-out queries, against exact search
by numpy (one matrix-vector product over all vectors in RAM, the brute-force anchor)
measured in the same run, with HNSW recall@10 against that exact answer. "commit-like"
vectors are made from the workspace's real commit embeddings (a real vector, plus up to
half of another, plus noise), so they cluster as real ones do; "uniform" random vectors
have no structure at all, the worst case for any graph index. At the largest commit-like
size the end-to-end `SemanticIndex.search` (encode a real commit subject with MiniLM, query,
shape the JSON) is timed too.

quality: the workspace is embedded (`gitlm embed`, incremental). Commits are ordered by time;
the newest `holdout` share that are not merges and changed at least one file form the test
set, the older ones the index. For each test commit its message (subject + body) is the
query and the files it changed (added, modified, deleted, renamed-to) are the truth;
recall@10 = |top 10 ∩ truth| / |truth|, averaged. Three rankers, same run, same index:
  gitlm       SemanticIndex.related_files (documented formula, rename/deletion following)
  frequent    the 10 files changed by the most older commits (the same for every query)
  bm25        BM25Okapi (rank-bm25) over older commit messages, its top 50 commits voting
              for their files with the same weights gitlm uses (score/max)^2 / sqrt(|files|),
              so the two differ only in how they find similar commits
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

DIM = 384


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


# -- (b) latency ------------------------------------------------------------------------


def commit_like(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors distributed like real commit embeddings: a real vector, plus up to half
    of another, plus a little noise (sigma 0.02 per component)."""
    a = real[rng.integers(0, len(real), n)]
    b = real[rng.integers(0, len(real), n)]
    v = a + rng.uniform(0, 0.5, (n, 1)).astype(np.float32) * b + rng.normal(0, 0.02, (n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def latency(real_workspace: Path, cases: list[tuple[str, int]], queries: int, threads: int) -> list[dict]:
    import torch

    from gitlm.config import GitlmConfig
    from gitlm.embed import Encoder, SemanticIndex
    from gitlm.embed.encoder import ModelInfo
    from gitlm.embed.store import CollectionMeta, StoredPoint
    from gitlm.embed.store.edge import EdgeStore
    from gitlm.embed.texts import TEXT_FORMAT

    torch.set_num_threads(threads)
    records = [json.loads(line) for line in (real_workspace / "embeddings" / "commits.jsonl").open()]
    real = np.array([r["vector"] for r in records], dtype=np.float32)
    subjects = [r["subject"] for r in records]
    info = ModelInfo.of(None)
    rng = np.random.default_rng(0)
    rows = []
    for kind, size in cases:
        make = (lambda n: commit_like(real, n, rng)) if kind == "commit-like" else (lambda n: uniform(n, rng))
        vectors, probes = make(size), make(queries)
        ids = [str(uuid.UUID(int=i + 1)) for i in range(size)]
        root = Path(tempfile.mkdtemp(prefix="gitlm-bench-search-"))
        try:
            store = EdgeStore(root / "index")
            store.create("commits", CollectionMeta(dim=DIM, model=info.name, model_path=info.path,
                                                   model_fingerprint=info.fingerprint, text_format=TEXT_FORMAT))
            started = time.perf_counter()
            for start in range(0, size, 1024):
                store.upsert("commits", [
                    StoredPoint(ids[i], vectors[i].tolist(), {
                        "kind": "commit", "subject": subjects[i % len(subjects)],
                        "author": f"author{i % 50}", "email": f"a{i % 50}@example.com", "timestamp": 1_600_000_000 + i,
                        "paths": ["src", f"src/m{i % 40}", f"src/m{i % 40}/f{i % 400}.py"], "flags": ["mainline"]})
                    for i in range(start, min(start + 1024, size))
                ])
            store.flush()
            upsert_s = time.perf_counter() - started
            started = time.perf_counter()
            store.finish("commits")
            build_s = time.perf_counter() - started
            indexed = store.indexed_vectors("commits")
            for probe in probes[:20]:  # warm caches
                store.query("commits", probe.tolist(), 10)
            # two separate loops: BLAS threads spin after each numpy product and would steal
            # the cores Qdrant's search threads need if the two alternated
            hnsw_ms, exact_ms, found = [], [], []
            for probe in probes:
                vector = probe.tolist()
                started = time.perf_counter()
                hits = store.query("commits", vector, 10)
                hnsw_ms.append((time.perf_counter() - started) * 1000)
                found.append({h.id for h in hits})
            recall = []
            for probe, hit_ids in zip(probes, found):
                started = time.perf_counter()
                exact = np.argpartition(-(vectors @ probe), 10)[:10]
                exact_ms.append((time.perf_counter() - started) * 1000)
                recall.append(len({ids[i] for i in exact} & hit_ids) / 10)
            row = {
                "vectors": kind, "points": size, "upsert_s": upsert_s, "build_s": build_s, "indexed_vectors": indexed,
                "p50_ms": percentile(hnsw_ms, 50), "p95_ms": percentile(hnsw_ms, 95),
                "exact_p50_ms": percentile(exact_ms, 50), "exact_p95_ms": percentile(exact_ms, 95),
                "recall_at_10": statistics.fmean(recall),
            }
            if kind == "commit-like" and size == max(n for k, n in cases if k == kind):
                # end to end: encode a real commit subject with MiniLM, query, shape the JSON
                index = SemanticIndex(store, Encoder(device="cpu"), GitlmConfig(), owns_store=False)
                texts = [subjects[int(i)] for i in rng.integers(0, len(subjects), min(queries, 200))]
                for text in texts[:10]:
                    index.search(text, top_k=5)
                e2e = []
                for text in texts:
                    started = time.perf_counter()
                    index.search(text, top_k=5)
                    e2e.append((time.perf_counter() - started) * 1000)
                row["end_to_end_p50_ms"], row["end_to_end_p95_ms"] = percentile(e2e, 50), percentile(e2e, 95)
            store.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


# -- (c) quality ------------------------------------------------------------------------


def changed_files(payload: dict) -> set[str]:
    renamed = {r["path"] for r in payload.get("files_renamed") or []}
    return set(payload.get("files_added") or []) | set(payload.get("files_modified") or []) | \
        set(payload.get("files_deleted") or []) | renamed


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def quality(workspace_dir: Path, holdout: float, top_k: int, neighbours: int) -> dict:
    from rank_bm25 import BM25Okapi

    from gitlm.config import GitlmConfig
    from gitlm.embed import Encoder, SemanticIndex, embed_workspace
    from gitlm.embed.encoder import ModelInfo
    from gitlm.embed.relevance import commit_weight
    from gitlm.embed.search import commit_files
    from gitlm.embed.store import CollectionMeta, StoredPoint
    from gitlm.embed.store.edge import EdgeStore
    from gitlm.embed.texts import TEXT_FORMAT
    from gitlm.workspace import Workspace

    workspace = Workspace(workspace_dir)
    encoder = Encoder(device="cpu")
    started = time.perf_counter()
    stats = embed_workspace(workspace, GitlmConfig.model_validate({"embed": {"chunks": False}}), encoder=encoder)
    embed_s = time.perf_counter() - started
    records = [json.loads(line) for line in workspace.path("embeddings/commits.jsonl").open()]
    records.sort(key=lambda r: r["commit_number"])
    cut = int(len(records) * (1 - holdout))
    older, newer = records[:cut], records[cut:]
    tests = [r for r in newer if not r["is_merge"] and changed_files(r)]

    info = ModelInfo.of(None)
    root = Path(tempfile.mkdtemp(prefix="gitlm-bench-quality-"))
    try:
        store = EdgeStore(root / "index")
        store.create("commits", CollectionMeta(dim=len(older[0]["vector"]), model=info.name, model_path=info.path,
                                               model_fingerprint=info.fingerprint, text_format=TEXT_FORMAT))
        for start in range(0, len(older), 512):
            store.upsert("commits", [StoredPoint(r["id"], r["vector"], {k: v for k, v in r.items() if k not in ("id", "vector")})
                                     for r in older[start:start + 512]])
        store.finish("commits")
        index = SemanticIndex(store, encoder, GitlmConfig())

        frequency = Counter(path for r in older if not r["is_merge"] for path in commit_files(r))
        frequent = [path for path, _ in frequency.most_common(top_k)]
        candidates = [r for r in older if not r["is_merge"]]
        bm25 = BM25Okapi([tokens(r["message"]) for r in candidates])

        recalls: dict[str, list[float]] = defaultdict(list)
        seconds: dict[str, float] = defaultdict(float)
        for test in tests:
            truth = changed_files(test)
            started = time.perf_counter()
            ranked = [f["path"] for f in index.related_files(test["message"], top_k=top_k, neighbours=neighbours)]
            seconds["gitlm"] += time.perf_counter() - started
            recalls["gitlm"].append(len(truth & set(ranked)) / len(truth))
            recalls["frequent"].append(len(truth & set(frequent)) / len(truth))
            started = time.perf_counter()
            scores = bm25.get_scores(tokens(test["message"]))
            best = np.argsort(-scores)[:neighbours]
            top = scores[best[0]] if len(best) else 0.0
            votes: dict[str, float] = defaultdict(float)
            for i in best:
                if scores[i] <= 0 or top <= 0:
                    continue
                files = commit_files(candidates[i])
                for path in files:
                    votes[path] += commit_weight(scores[i] / top, len(files))
            bm25_ranked = sorted(votes, key=lambda p: (-votes[p], p))[:top_k]
            seconds["bm25"] += time.perf_counter() - started
            recalls["bm25"].append(len(truth & set(bm25_ranked)) / len(truth))
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "workspace": str(workspace_dir), "commits": len(records), "index_commits": len(older), "test_commits": len(tests),
        "holdout": holdout, "top_k": top_k, "neighbours": neighbours, "embed_seconds": embed_s,
        "encoded_now": stats.commits.encoded,
        "recall_at_k": {name: statistics.fmean(values) for name, values in recalls.items()},
        "ms_per_query": {name: 1000 * s / len(tests) for name, s in seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("workspace", type=Path, help="an embedded workspace: its commit vectors shape the synthetic ones")
    lat.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="commit-like collection sizes")
    lat.add_argument("--uniform", type=int, nargs="*", default=[10_000], help="uniform random collection sizes (worst case)")
    lat.add_argument("--queries", type=int, default=300)
    lat.add_argument("--threads", type=int, default=2)
    lat.add_argument("--json", type=Path)
    qual = sub.add_parser("quality")
    qual.add_argument("workspace", type=Path)
    qual.add_argument("--holdout", type=float, default=0.1)
    qual.add_argument("--top-k", type=int, default=10)
    qual.add_argument("--neighbours", type=int, default=50)
    qual.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.mode == "latency":
        cases = [("commit-like", n) for n in args.sizes] + [("uniform", n) for n in args.uniform]
        rows = latency(args.workspace, cases, args.queries, args.threads)
        print("\n| vectors | points | upsert | index build | HNSW p50 | HNSW p95 | exact (numpy) p50 | exact p95 | recall@10 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['vectors']} | {r['points']:,} | {r['upsert_s']:.1f} s | {r['build_s']:.1f} s | {r['p50_ms']:.2f} ms | "
                  f"{r['p95_ms']:.2f} ms | {r['exact_p50_ms']:.2f} ms | {r['exact_p95_ms']:.2f} ms | {r['recall_at_10']:.3f} |")
        for r in rows:
            if "end_to_end_p50_ms" in r:
                print(f"\nend to end (encode the query with MiniLM + search + JSON) at {r['points']:,} points: "
                      f"p50 {r['end_to_end_p50_ms']:.1f} ms, p95 {r['end_to_end_p95_ms']:.1f} ms")
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    else:
        result = quality(args.workspace, args.holdout, args.top_k, args.neighbours)
        r = result["recall_at_k"]
        print("| repository | index commits | test commits | gitlm files | most frequent | BM25 messages | gitlm / best baseline |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        print(f"| {Path(result['workspace']).name} | {result['index_commits']:,} | {result['test_commits']:,} | "
              f"{r['gitlm']:.3f} | {r['frequent']:.3f} | {r['bm25']:.3f} | {r['gitlm'] / max(r['frequent'], r['bm25']):.2f}x |")
        print("\n" + json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
