"""What privacy costs the scrape, and what it finds, in one run.

    .venv/bin/python bench/privacy.py bench/.work/pallets-flask.git [more repos] [--rounds 5]

For each repository, in alternating rounds (so a busy machine hurts every variant alike),
each in its own process:
  git log -p   `git log --all -p --numstat --diff-merges=first-parent > /dev/null` (the
               anchor BENCHMARKS.md's scrape figures use)
  raw          scrape_to_workspace with privacy off: --keep-secrets, no path filters, no
               size limit (git's view, as before privacy existed)
  default      scrape_to_workspace with the default privacy settings: secret redaction,
               default excludes, 1 MiB size limit
Reported: the median wall time of each, default/raw (the cost of privacy) and default/git,
and the CPU seconds of gitlm's own process and of the git processes it ran (CPU time moves
far less than wall time when other work shares the machine: compare those when it is busy).
Then, in this process, the redactor alone over every message and patch of the raw scrape
(MB/s), and every finding of the default scrape by type, with the line it was found on
truncated so that the report shows what was redacted (review them by hand: false positives).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SCRAPE = r"""
import json, resource, sys, time
from pathlib import Path
from gitlm.config import GitlmConfig, PrivacyConfig
from gitlm.scrape import scrape_to_workspace
mode = sys.argv[3]
privacy = PrivacyConfig() if mode == "default" else PrivacyConfig(redact_secrets=False, default_excludes=False, max_file_size=0)
start = time.perf_counter()
ws, stats = scrape_to_workspace(sys.argv[1], GitlmConfig(out=Path(sys.argv[2]), privacy=privacy))
seconds = time.perf_counter() - start
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "commits": stats.total_commits,
                  "cpu_gitlm": me.ru_utime + me.ru_stime, "cpu_git": kids.ru_utime + kids.ru_stime,
                  "secrets": stats.secrets_by_type, "excluded": stats.files_excluded_by_reason}))
"""


def git_log_seconds(repo: Path) -> float:
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(["git", "--git-dir", str(repo), "log", "--all", "-p", "--numstat", "--diff-merges=first-parent"],
                       stdout=sink, env=env, check=True)
    return time.perf_counter() - start


def scrape_once(repo: Path, out: Path, mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRAPE, str(repo), str(out), mode], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def redactor_throughput(commits_jsonl: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gitlm.privacy import SecretRedactor
    from gitlm.schema import Commit, iter_jsonl

    texts = []
    for commit in iter_jsonl(commits_jsonl, Commit):
        texts.append((commit.message_subject + "\n" + commit.message_body, None))
        texts.extend((f.patch, f.path) for f in commit.files if f.patch)
    redactor = SecretRedactor()
    redactor.redact("warm = 'up'")
    megabytes = sum(len(t.encode()) for t, _ in texts) / 1e6
    best = float("inf")
    for _ in range(3):
        redactor.counts.clear()
        start = time.process_time()
        for text, path in texts:
            redactor.redact(text, path)
        best = min(best, time.process_time() - start)
    return {"texts": len(texts), "megabytes": megabytes, "cpu_seconds": best, "mb_per_s": megabytes / best}


def findings(commits_jsonl: Path) -> list[tuple[str, str, str]]:
    """(type, file or 'message', the line with the placeholder) for each redaction."""
    from gitlm.schema import Commit, iter_jsonl

    rows = []
    for commit in iter_jsonl(commits_jsonl, Commit):
        sources = [("message", commit.message_subject + "\n" + commit.message_body)]
        sources += [(f.path, f.patch) for f in commit.files if f.patch]
        for where, text in sources:
            for line in text.splitlines():
                position = line.find("<SECRET:")
                if position >= 0:
                    kind = line[position + 8: line.find(">", position)]
                    rows.append((kind, where, line.strip()[:100]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--show", type=int, default=40, help="findings to list per repository")
    args = parser.parse_args()
    for repo in args.repos:
        times: dict[str, list[float]] = {"git": [], "raw": [], "default": []}
        cpu: dict[str, list[tuple[float, float]]] = {"raw": [], "default": []}
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["git", "--git-dir", str(repo), "rev-list", "--all", "--objects"], capture_output=True, check=True)
            result = {}
            for _ in range(args.rounds):
                times["git"].append(git_log_seconds(repo))
                for mode in ("raw", "default"):
                    result[mode] = scrape_once(repo, Path(tmp) / mode, mode)
                    times[mode].append(result[mode]["seconds"])
                    cpu[mode].append((result[mode]["cpu_gitlm"], result[mode]["cpu_git"]))
            median = {k: statistics.median(v) for k, v in times.items()}
            commits = result["default"]["commits"]
            print(f"## {repo.name.removesuffix('.git')}: {commits:,} commits, {args.rounds} rounds (median)\n")
            print("| variant | seconds | commits/s | vs raw | vs git log -p |")
            print("|---|---:|---:|---:|---:|")
            for mode, label in (("git", "git log -p (anchor)"), ("raw", "scrape, privacy off"), ("default", "scrape, privacy on (default)")):
                print(f"| {label} | {median[mode]:.2f} | {commits / median[mode]:,.0f} | {median[mode] / median['raw']:.2f}x "
                      f"| {median['git'] / median[mode]:.0%} |")
            print()
            print("| variant | gitlm process CPU s | its git processes CPU s | total CPU s | vs raw |")
            print("|---|---:|---:|---:|---:|")
            total_raw = statistics.median(a + b for a, b in cpu["raw"])
            for mode, label in (("raw", "privacy off"), ("default", "privacy on (default)")):
                own = statistics.median(a for a, _ in cpu[mode])
                git_cpu = statistics.median(b for _, b in cpu[mode])
                total = statistics.median(a + b for a, b in cpu[mode])
                print(f"| {label} | {own:.2f} | {git_cpu:.2f} | {total:.2f} | {total / total_raw:.2f}x |")
            print()
            speed = redactor_throughput(Path(tmp) / "raw" / "commits.jsonl")
            print(f"redactor alone: {speed['texts']:,} texts, {speed['megabytes']:.1f} MB in {speed['cpu_seconds']:.2f} s CPU "
                  f"= {speed['mb_per_s']:.0f} MB/s")
            print(f"secrets by type: {json.dumps(result['default']['secrets'])}; files excluded: {json.dumps(result['default']['excluded'])}")
            rows = findings(Path(tmp) / "default" / "commits.jsonl")
            print(f"\n{len(rows)} redacted lines ({Counter(r[0] for r in rows).most_common()}); distinct:")
            for (kind, where, line), n in Counter(rows).most_common(args.show):
                print(f"  {n:3d} x {kind:16s} {where}: {line}")
            print()


if __name__ == "__main__":
    main()
