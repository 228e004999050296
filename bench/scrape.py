"""Benchmark `gitlm scrape` against git's own ceiling and PyDriller, in one run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/scrape.py PATH/TO/flask PATH/TO/ipython [--pydriller-limit N]

Each source repository (a clone, bare or not) is first copied into bench/.work/ with only
its branches and tags (no pull-request refs), so all three tools see the same commits:
  ceiling   git log --all -p --numstat --diff-merges=first-parent > /dev/null
  gitlm     gitlm.scrape_to_workspace (patches on, commits.jsonl written)
  pydriller Repository(include_refs=True): every modified file's added/deleted lines and diff
            ("files"), and again also reading the commit's insertions/deletions/files, which
            gitlm's record carries too ("record"; PyDriller runs `git show --shortstat` for them)
Each tool runs in its own process; peak RSS is that process's own (ru_maxrss), with the git
processes it starts reported separately. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"

GITLM_RUN = r"""
import json, resource, sys, time
from pathlib import Path
from gitlm.config import GitlmConfig
from gitlm.scrape import scrape_to_workspace
start = time.perf_counter()
ws, stats = scrape_to_workspace(sys.argv[1], GitlmConfig(out=Path(sys.argv[2])))
seconds = time.perf_counter() - start
print(json.dumps({"commits": stats.total_commits, "seconds": seconds,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "output_mb": ws.path("commits.jsonl").stat().st_size / 2**20}))
"""

PYDRILLER_RUN = r"""
import json, resource, sys, time
from pydriller import Repository
limit = int(sys.argv[2])
record = sys.argv[3] == "record"
start = time.perf_counter()
commits = lines = 0
for commit in Repository(sys.argv[1], include_refs=True).traverse_commits():
    for modified in commit.modified_files:
        lines += modified.added_lines + modified.deleted_lines
        _ = modified.diff
    if record:  # the commit-level figures gitlm's record also carries
        lines += commit.insertions + commit.deletions + commit.files
    commits += 1
    if limit and commits >= limit:
        break
seconds = time.perf_counter() - start
print(json.dumps({"commits": commits, "seconds": seconds, "lines": lines,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def git(*args: str, cwd: Path | None = None) -> str:
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def prepare(source: Path) -> Path:
    """A bare copy holding only branches and tags (pull-request refs dropped)."""
    name = source.name if source.name not in ("repo", ".git") else source.parent.name
    target = WORK / f"{name.replace('+', '-')}.git"
    if not target.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", str(target))
        git("--git-dir", str(target), "fetch", "-q", "--no-tags", str(source),
            "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
        head = git("--git-dir", str(source if (source / "HEAD").exists() else source / ".git"), "symbolic-ref", "HEAD").strip()
        git("--git-dir", str(target), "symbolic-ref", "HEAD", head)  # PyDriller starts from HEAD
    return target


def run_ceiling(repo: Path) -> dict:
    commits = int(git("--git-dir", str(repo), "rev-list", "--all", "--count"))
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(["git", "--git-dir", str(repo), "log", "--all", "-p", "--numstat",
                                 "--diff-merges=first-parent"], stdout=sink,
                                env=dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1"))
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    assert status == 0
    return {"commits": commits, "seconds": seconds, "rss_mb": usage.ru_maxrss / 1024}


def run_python(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--pydriller-limit", type=int, default=0, help="stop PyDriller after N commits (rate only)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()

    rows = []
    for source in args.repos:
        repo = prepare(source)
        git("--git-dir", str(repo), "rev-list", "--all", "--objects")  # warm the page cache once
        ceiling = run_ceiling(repo)
        with tempfile.TemporaryDirectory() as out:
            ours = run_python(GITLM_RUN, str(repo), out)
        driller = run_python(PYDRILLER_RUN, str(repo), str(args.pydriller_limit), "files")
        driller_record = run_python(PYDRILLER_RUN, str(repo), str(args.pydriller_limit), "record")
        rows.append({"repo": repo.name.removesuffix(".git"), "ceiling": ceiling, "gitlm": ours,
                     "pydriller": driller, "pydriller_record": driller_record})
        print(f"{repo.name}: done", file=sys.stderr)

    tools = ("ceiling", "gitlm", "pydriller", "pydriller_record")
    print("| repository | commits | git log -p (ceiling) | gitlm scrape | PyDriller files | PyDriller record "
          "| gitlm / git | gitlm / PyDriller files | gitlm / PyDriller record |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        rate = {k: row[k]["commits"] / row[k]["seconds"] for k in tools}
        print(
            f"| {row['repo']} | {row['gitlm']['commits']:,} | {rate['ceiling']:,.0f} c/s | {rate['gitlm']:,.0f} c/s "
            f"| {rate['pydriller']:,.0f} c/s | {rate['pydriller_record']:,.0f} c/s | {rate['gitlm'] / rate['ceiling']:.0%} "
            f"| {rate['gitlm'] / rate['pydriller']:.1f}x | {rate['gitlm'] / rate['pydriller_record']:.1f}x |"
        )
    print()
    print("| repository | gitlm peak RSS | its git processes | PyDriller peak RSS | git log -p peak RSS | commits.jsonl |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['repo']} | {row['gitlm']['rss_mb']:.0f} MB | {row['gitlm']['child_rss_mb']:.0f} MB "
            f"| {row['pydriller']['rss_mb']:.0f} MB | {row['ceiling']['rss_mb']:.0f} MB | {row['gitlm']['output_mb']:.0f} MB |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
