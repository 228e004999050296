"""Benchmark `gitlm chunk` against `gitlm scrape` of the same repository, in one run.

    .venv/bin/python bench/chunks.py bench/.work/pallets-flask.git bench/.work/ipython-ipython.git [--out /tmp/chunk-bench]
        [--no-plain] [--repeat 5] [--derive-check python,javascript]

The issue's target: chunking a repository takes no longer than scraping it. For each
repository, in this order and each in its own process (peak RSS is that process's own):
  scrape   scrape_to_workspace (defaults: patches, secret redaction, default excludes) -> commits.jsonl
  chunk    chunk_workspace (defaults: max 512 / min 64 tokens, merges skipped, redaction) -> chunks.jsonl,
           with the chunker's modules compiled when scripts/setup built them (gitlm/native.py)
  plain    the same chunk run in plain Python (GITLM_NATIVE=0; skipped with --no-plain)
Reports commits/s and chunks/s of the chunk phase, the expansion factor (chunks per commit),
CPU seconds of each phase (its process, and the processes it ran: git, chunk workers), and
chunk/scrape wall time and CPU. Prints a Markdown table for BENCHMARKS.md. --repeat N runs
the three N times in turn (a shared machine's speed drifts by 10-20% from minute to minute)
and reports the round with the median chunk/scrape ratio, with the ratios' range. --derive-check
also checks the incremental outlines against full parses over the whole history (minutes;
run after the timings, alone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SCRAPE = r"""
import json, os, resource, sys, time
from pathlib import Path
from gitlm.config import GitlmConfig
from gitlm.scrape import scrape_to_workspace
start = time.perf_counter()
ws, stats = scrape_to_workspace(sys.argv[1], GitlmConfig(out=Path(sys.argv[2])))
seconds = time.perf_counter() - start
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"commits": stats.total_commits, "seconds": seconds, "cpu": own.ru_utime + own.ru_stime,
    "git_cpu": kids.ru_utime + kids.ru_stime, "rss_mb": own.ru_maxrss / 1024,
    "output_mb": ws.path("commits.jsonl").stat().st_size / 2**20}))
"""

CHUNK = r"""
import json, os, resource, sys, time
from pathlib import Path
from gitlm.config import GitlmConfig
from gitlm import native
from gitlm.chunk import chunk_workspace
start = time.perf_counter()
stats = chunk_workspace(Path(sys.argv[1]), GitlmConfig())
seconds = time.perf_counter() - start
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
figures = stats.as_dict()
print(json.dumps({"seconds": seconds, "cpu": own.ru_utime + own.ru_stime, "git_cpu": kids.ru_utime + kids.ru_stime,
    "rss_mb": own.ru_maxrss / 1024, "output_mb": Path(sys.argv[1], "chunks.jsonl").stat().st_size / 2**20,
    "native": native.STATUS, "stats": figures}))
"""


DERIVE_CHECK = r"""
import collections, json, sys, time
from pathlib import Path
from gitlm.chunk.blobs import BlobRequest, BlobStore
from gitlm.chunk.diff import parse_patch
from gitlm.chunk.languages import analyzer_for
from gitlm.chunk.outline import Extractor, LineIndex
from gitlm.schema import Commit, iter_jsonl
from gitlm.scrape.git import open_repository
repo, ws, languages = open_repository(sys.argv[1]), Path(sys.argv[2]), set(sys.argv[3].split(","))
extractors, counts, seconds = {}, collections.Counter(), {"derive": 0.0, "full": 0.0}
def shape(entries):
    return [(e.kind, e.name, e.start, e.end, shape(e.members) if e.members else None) for e in entries]
with BlobStore(repo) as store:
    for commit in iter_jsonl(ws / "commits.jsonl", Commit):
        if commit.is_merge:
            continue
        for change in commit.files:
            if change.language not in languages or change.change_type != "M" or not change.patch or change.patch_truncated:
                continue
            analyzer = analyzer_for(change.language)
            extractor = extractors.setdefault(analyzer.name, Extractor(analyzer, 512 * 7 // 2))
            old, new = store.get_many([BlobRequest(change.old_blob, commit.parents[0], change.old_path or change.path),
                                       BlobRequest(change.new_blob, commit.hash, change.path)])
            if old is None or new is None:
                continue
            before = extractor.parse(old.data)
            diff = parse_patch(change.patch)
            if before.has_error or not diff.consistent:
                counts["old_unparsable"] += 1
                continue
            lines = LineIndex(new.data)
            start = time.perf_counter()
            derived = extractor.derive(before, diff.blocks, new.data, lines)
            seconds["derive"] += time.perf_counter() - start
            start = time.perf_counter()
            full = extractor.parse(new.data, lines)
            seconds["full"] += time.perf_counter() - start
            if full.has_error:  # the derivation must notice it too (a derived outline would hide the error)
                counts["new_unparsable" if derived is None or derived.has_error else "derived_despite_error"] += 1
            elif derived is None:
                counts["fell_back_to_full_parse"] += 1
            else:
                counts["equal" if shape(derived.entries) == shape(full.entries) else "different"] += 1
print(json.dumps({"counts": counts, "seconds": {k: round(v, 2) for k, v in seconds.items()}}))
"""


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", **(env or {}))
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="keep the workspaces here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--no-plain", action="store_true", help="skip the chunk run in plain Python")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="rounds per repository (default 1)")
    parser.add_argument("--derive-check", metavar="LANGUAGES",
                        help="also check, for every modified file of these languages (comma-separated, e.g. "
                             "python,javascript), that the incrementally derived outline equals a full parse")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as temp:
        root = args.out or Path(temp)
        for repo in args.repos:
            name = repo.name.removesuffix(".git")
            ws = root / name
            rounds = []
            for _ in range(max(args.repeat, 1)):
                scrape = run_python(SCRAPE, str(repo), str(ws))
                rounds.append({"scrape": scrape, "chunk": run_python(CHUNK, str(ws))})
                if not args.no_plain:
                    rounds[-1]["plain"] = run_python(CHUNK, str(ws), env={"GITLM_NATIVE": "0"})
            ordered = sorted(rounds, key=lambda r: r["chunk"]["seconds"] / r["scrape"]["seconds"])
            ratios = [r["chunk"]["seconds"] / r["scrape"]["seconds"] for r in ordered]
            rows.append({"repo": name, **ordered[(len(ordered) - 1) // 2], "ratios": ratios, "rounds": rounds})
            if args.derive_check:
                rows[-1]["derive_check"] = run_python(DERIVE_CHECK, str(repo), str(ws), args.derive_check)
            print(f"{name}: done", file=sys.stderr)

    print(f"chunker modules: {rows[0]['chunk']['native'] if rows else '?'}")
    print()
    print("| repository | commits | scrape | chunk | chunk / scrape (median round; range) | plain Python chunk | plain / scrape | commits/s | chunks "
          "| chunks/s | expansion (chunks per commit) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s, c, st = row["scrape"], row["chunk"], row["chunk"]["stats"]
        p = row.get("plain")
        plain = f"{p['seconds']:.1f} s | {p['seconds'] / s['seconds']:.2f}" if p else "- | -"
        spread = f" ({row['ratios'][0]:.2f}-{row['ratios'][-1]:.2f})" if len(row["ratios"]) > 1 else ""
        print(f"| {row['repo']} | {s['commits']:,} | {s['seconds']:.1f} s | {c['seconds']:.1f} s | {c['seconds'] / s['seconds']:.2f}{spread} "
              f"| {plain} | {st['commits'] / c['seconds']:,.0f} | {st['chunks']:,} | {st['chunks'] / c['seconds']:,.0f} "
              f"| {st['expansion_factor']} |")
    print()
    print("| repository | scrape CPU (own + git) | chunk CPU (main + workers with their git) | chunk / scrape CPU | chunk main peak RSS "
          "| chunks.jsonl | parse: full / incremental / after an error / fallbacks | blobs read / rebuilt / cache hits |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s, c, st = row["scrape"], row["chunk"], row["chunk"]["stats"]
        ratio = (c["cpu"] + c["git_cpu"]) / (s["cpu"] + s["git_cpu"])
        print(f"| {row['repo']} | {s['cpu']:.1f} + {s['git_cpu']:.1f} s | {c['cpu']:.1f} + {c['git_cpu']:.1f} s | {ratio:.2f} "
              f"| {c['rss_mb']:.0f} MB | {c['output_mb']:.0f} MB | {st['full_parses']:,} / {st['incremental_parses']:,} "
              f"/ {st.get('tree_reparses', 0):,} / {st['parse_fallbacks']:,} | {st['blobs_read']:,} / {st.get('blobs_rebuilt', 0):,} "
              f"/ {st['blob_cache_hits']:,} |")
    if args.derive_check:
        print()
        print(f"| repository | derived outline = full parse ({args.derive_check}) | different | fell back to a full parse | derive s | full parse s |")
        print("|---|---:|---:|---:|---:|---:|")
        for row in rows:
            check = row["derive_check"]
            c, t = check["counts"], check["seconds"]
            print(f"| {row['repo']} | {c.get('equal', 0):,} | {c.get('different', 0):,} | {c.get('fell_back_to_full_parse', 0):,} "
                  f"| {t['derive']} | {t['full']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
