"""Benchmark `gitlm run` re-runs: first run, unchanged re-run, re-run after one new commit.

    .venv/bin/python bench/run.py bench/.work/pallets-flask.git [--work /tmp/gitlm-bench-run] [--json figures.json]

The issue's targets (training skipped in all three runs, `--train skip`):
  unchanged re-run      <= 5% of the first run's wall time
  one new commit        <= 15% of the first run's wall time

The repository (the bare copies bench/scrape.py makes) is cloned into WORK/repo so a commit
can be added; the workspace is WORK/ws, created afresh. Each run is the `gitlm` command in its
own process, timed from outside (process start to exit, so Python start-up and imports count);
per-phase seconds come from MANIFEST.json's phase_results. The new commit edits one Python
file (a comment line appended to the largest tracked .py file) with a fixed identity and date.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

GITLM = Path(sys.executable).with_name("gitlm")
PHASES = ("analyze", "scrape", "chunk", "tokenize", "dataset", "embed", "train", "report")
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@gitlm.invalid", "GIT_AUTHOR_DATE": "2030-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@gitlm.invalid", "GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=os.environ | GIT_ENV).stdout


def timed_run(repo: Path, ws: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([str(GITLM), "run", str(repo), "--out", str(ws), "--train", "skip"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"gitlm run failed:\n{proc.stdout}\n{proc.stderr}")
    manifest = json.loads((ws / "MANIFEST.json").read_text())
    results = manifest["phase_results"]
    phases = {name: (results[name]["status"], results[name]["seconds"]) for name in PHASES if name in results}
    scrape = manifest["phases"]["scrape"]
    chunk = manifest["phases"].get("chunk", {})
    embed = manifest["phases"].get("embed", {}).get("stats", {})
    return {"seconds": round(seconds, 2), "phases": phases, "scrape_mode": scrape.get("mode"),
            "commits": scrape["stats"]["total_commits"], "commits_scraped": scrape.get("commits_scraped"),
            "chunk_mode": chunk.get("mode"), "commits_chunked": chunk.get("stats", {}).get("commits"),
            "encoded": (embed.get("commits", {}).get("encoded", 0) + embed.get("chunks", {}).get("encoded", 0))}


def add_commit(repo: Path) -> str:
    files = [line for line in git(repo, "ls-files", "*.py").splitlines() if (repo / line).is_file()]
    target = max(files, key=lambda name: (repo / name).stat().st_size)
    with open(repo / target, "a", encoding="utf-8") as handle:
        handle.write("\n# gitlm bench: one new commit\n")
    git(repo, "commit", "-q", "-am", "bench: one new commit")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gitlm-bench-run"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    repo, ws = args.work / "repo", args.work / "ws"
    subprocess.run(["git", "clone", "-q", str(args.source), str(repo)], check=True, env=os.environ | GIT_ENV)
    load = os.getloadavg()[0]
    runs = {"first": timed_run(repo, ws), "unchanged": timed_run(repo, ws)}
    edited = add_commit(repo)
    runs["one new commit"] = timed_run(repo, ws)
    load = max(load, os.getloadavg()[0])
    first = runs["first"]["seconds"]
    figures = {"repository": args.source.name, "edited": edited, "load_average_max": round(load, 1), "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{args.source.name}: {first and runs['first']['commits']:,} commits; load average up to {load:.1f}\n")
    print("| run | wall | / first | scrape | chunk | tokenize | dataset | embed | report | what ran |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, run in runs.items():
        cells = [f"{run['phases'][p][1]:.1f} s" if run["phases"][p][0] == "completed" else "skip"
                 for p in ("scrape", "chunk", "tokenize", "dataset", "embed", "report")]
        what = (f"scrape {run['scrape_mode']} ({run['commits_scraped']:,} commits), chunk {run['chunk_mode']} "
                f"({run['commits_chunked']:,} commits), {run['encoded']:,} texts encoded")
        if all(c == "skip" for c in cells):
            what = "every phase skipped (unchanged)"
        print(f"| {name} | {run['seconds']:.1f} s | {run['seconds'] / first:.1%} | " + " | ".join(cells) + f" | {what} |")


if __name__ == "__main__":
    main()
