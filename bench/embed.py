"""Benchmark `gitlm embed` against bare SentenceTransformer.encode, in one run.

    .venv/bin/gitlm scrape bench/.work/pallets-flask.git --out /tmp/bench-flask
    .venv/bin/python bench/embed.py /tmp/bench-flask [--commits 2000] [--threads 2] [--rounds 2]

Both sides get the same commit texts (gitlm's commit_text of the first N commits of the
workspace), the same packaged all-MiniLM-L6-v2, batch size 32, normalized output, and the
same torch thread count (torch.set_num_threads):

  bare    SentenceTransformer.encode(all texts, batch_size=32, normalize_embeddings=True)
  gitlm   embed_workspace on a workspace holding those N commits: read commits.jsonl, build
          texts, encode, upsert into the embedded Qdrant shard with payloads, build the
          index, write embeddings/commits.jsonl and qdrant_points.json, MANIFEST.json

The two alternate for --rounds rounds (the machine is shared; alternating spreads any
drift over both) and the best round of each is reported, with the ratio gitlm / bare.
A third figure, gitlm's encode time alone (EmbedStats.encode_seconds), separates model
time from gitlm's own work. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path, help="a scraped workspace (commits.jsonl)")
    parser.add_argument("--commits", type=int, default=2000, help="embed the first N commits")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from gitlm.config import GitlmConfig
    from gitlm.embed import Encoder, default_model_path, embed_workspace
    from gitlm.embed.texts import commit_text
    from gitlm.schema import Commit, iter_jsonl
    from gitlm.workspace import Workspace

    torch.set_num_threads(args.threads)
    commits = list(islice(iter_jsonl(args.workspace / "commits.jsonl", Commit), args.commits))
    texts = [commit_text(c) for c in commits]
    with open(args.workspace / "commits.jsonl", "rb") as handle:
        lines = list(islice(handle, len(commits)))

    bare_model = SentenceTransformer(str(default_model_path()), device="cpu")
    encoder = Encoder(device="cpu", batch_size=args.batch_size, threads=args.threads)
    bare_model.encode(texts[:64], batch_size=args.batch_size)  # warm both
    encoder.encode(texts[:64])

    runs: dict[str, list[float]] = {"bare": [], "gitlm": [], "gitlm_encode": []}
    root = Path(tempfile.mkdtemp(prefix="gitlm-bench-embed-"))
    try:
        for _ in range(args.rounds):
            started = time.perf_counter()
            bare_model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
            runs["bare"].append(time.perf_counter() - started)

            ws = Workspace(root / "ws")
            shutil.rmtree(ws.root, ignore_errors=True)
            ws.create()
            ws.path("commits.jsonl").write_bytes(b"".join(lines))
            config = GitlmConfig.model_validate({"embed": {"batch_size": args.batch_size, "chunks": False}})
            started = time.perf_counter()
            stats = embed_workspace(ws, config, encoder=encoder)
            runs["gitlm"].append(time.perf_counter() - started)
            runs["gitlm_encode"].append(stats.encode_seconds)
            assert stats.commits.encoded == len(commits), stats
    finally:
        shutil.rmtree(root, ignore_errors=True)

    n = len(commits)
    best = {name: min(values) for name, values in runs.items()}
    figures = {
        "commits": n, "threads": args.threads, "batch_size": args.batch_size, "rounds": args.rounds,
        "seconds": runs, "bare_cps": n / best["bare"], "gitlm_cps": n / best["gitlm"],
        "gitlm_encode_cps": n / best["gitlm_encode"], "ratio": best["bare"] / best["gitlm"],
        "mean_chars": sum(map(len, texts)) / n, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
    }
    print("| texts | threads | bare encode | gitlm embed (end to end) | gitlm encode only | gitlm / bare |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {n:,} commits | {args.threads} | {figures['bare_cps']:.1f} c/s | {figures['gitlm_cps']:.1f} c/s | "
          f"{figures['gitlm_encode_cps']:.1f} c/s | {figures['ratio']:.2f}x |")
    print(f"\nmean text length {figures['mean_chars']:.0f} chars; rounds (s): " + json.dumps(runs))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
