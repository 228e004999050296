"""The figures in SECURITY.md, measured: secrets planted / found / leaked, hostile commands
run, bad inputs handled, and what the redactor flags in real histories.

    .venv/bin/python bench/security.py [--history /work/main] [--history bench/.work/pallets-flask.git]

1. Builds the fixture history of tests/privacy_fixtures.py (every secret type added in one
   commit and removed in a later one, plus a token in a commit message), runs every
   registered gitlm phase over it (scrape, chunk, tokenize, dataset, embed), and counts per
   type: planted (distinct secrets), found (redactions in the phases' stats) and leaked
   (files under the workspace, and command output, that contain a planted value).
2. Runs the bad inputs of tests/test_privacy_bad_input.py through the real CLI and prints
   the exit code and the one line each gave.
3. For each --history: scrapes it with defaults and lists every redaction (for a human to
   classify as a true or false positive).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gitrepo import GitRepo, git_test_env  # noqa: E402
from tests.privacy_fixtures import (  # noqa: E402
    MESSAGE_TOKEN, PRIVATE_KEY_BODY, build_secret_history, files_containing, planted_secrets,
)

PHASES = [  # (command, extra arguments) in pipeline order; only registered ones run
    ("chunk", []), ("tokenize", []), ("dataset", []), ("embed", []),
]


def gitlm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, cwd=cwd, env=env)


def registered() -> set[str]:
    from gitlm.commands import app

    return {c.name or c.callback.__name__ for c in app.registered_commands}


def planted_table(tmp: Path) -> None:
    home = tmp / "home"
    home.mkdir()
    env = git_test_env(home)
    repo = build_secret_history(lambda name: GitRepo(tmp / name, env))
    ws = tmp / "ws"
    outputs = []
    proc = gitlm("scrape", str(repo.path), "--out", str(ws), "--json", "--stats", "--verbose")
    outputs.append(("scrape", proc))
    names = registered()
    for command, extra in PHASES:
        if command in names:
            outputs.append((command, gitlm(command, "--workspace", str(ws), *extra)))
    ran = [(c, p.returncode) for c, p in outputs]
    manifest = json.loads((ws / "MANIFEST.json").read_text())
    found: Counter[str] = Counter()
    for phase in manifest["phases"].values():
        found.update(phase.get("stats", {}).get("secrets_by_type", {}))

    needles: dict[str, list[str]] = {}
    for planted in planted_secrets():
        needles.setdefault(planted.type, []).append(planted.value)
    needles.setdefault("private_key", []).extend(PRIVATE_KEY_BODY)
    needles["github_token"].append(MESSAGE_TOKEN)
    leaks = files_containing(ws, [n for values in needles.values() for n in values])
    printed = "".join(p.stdout + p.stderr for _, p in outputs)
    print(f"phases run: {', '.join(f'{c} (exit {code})' for c, code in ran)}; workspace files scanned: "
          f"{sum(1 for p in ws.rglob('*') if p.is_file())}\n")
    print("| secret type | planted | occurrences in history | redactions (all phases) | leaked |")
    print("|---|---:|---:|---:|---:|")
    for kind in sorted(needles):
        planted = 1 if kind != "github_token" else 2
        occurrences = 2 * planted - (1 if kind == "github_token" else 0)  # the message token appears once
        leaked = sum(len(leaks.get(n, [])) for n in needles[kind]) + sum(n in printed for n in needles[kind])
        print(f"| {kind} | {planted} | {occurrences} | {found.get(kind, 0)} | {leaked} |")
    total_leaked = sum(len(v) for v in leaks.values())
    print(f"\ntotal: {sum(1 for p in planted_secrets()) + 2} secrets planted, {sum(found.values())} redactions, "
          f"{total_leaked} leaked file(s)")
    by_phase = {name: phase.get("stats", {}).get("secrets_by_type") for name, phase in manifest["phases"].items()}
    print(f"redactions by phase: {json.dumps(by_phase)}\n")


def bad_inputs(tmp: Path) -> None:
    home = tmp / "home2"
    home.mkdir()
    repo = GitRepo(tmp / "small", git_test_env(home))
    repo.write("a.py", "x = 1\n")
    repo.commit("first")
    (tmp / "notes.txt").write_text("hi\n")
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("scrape:\n  max_patch_byte: 10\n")
    bad_value = tmp / "badvalue.yaml"
    bad_value.write_text("privacy:\n  max_file_size: lots\n")
    ws = tmp / "ws2"
    assert gitlm("scrape", str(repo.path), "--out", str(ws)).returncode == 0
    corrupt = tmp / "ws3"
    assert gitlm("scrape", str(repo.path), "--out", str(corrupt)).returncode == 0
    data = (corrupt / "commits.jsonl").read_bytes()
    (corrupt / "commits.jsonl").write_bytes(data[: len(data) // 2])
    cases = [
        ("missing path", ["scrape", str(tmp / "nope"), "--out", str(tmp / "o1")]),
        ("a file instead of a repository", ["scrape", str(tmp / "notes.txt"), "--out", str(tmp / "o2")]),
        ("unknown config key", ["scrape", str(repo.path), "--config", str(bad_yaml), "--out", str(tmp / "o3")]),
        ("bad config value", ["scrape", str(repo.path), "--config", str(bad_value), "--out", str(tmp / "o4")]),
        ("bad flag value", ["scrape", str(repo.path), "--max-file-size", "-1", "--out", str(tmp / "o5")]),
        ("workspace that does not exist", ["embed", "--workspace", str(tmp / "none")]),
    ]
    names = registered()
    for command in ("chunk", "tokenize", "embed"):
        if command in names:
            cases.append((f"truncated commits.jsonl line ({command})", [command, "--workspace", str(corrupt)]))
    print("| bad input | exit | message |")
    print("|---|---:|---|")
    for label, argv in cases:
        proc = gitlm(*argv)
        line = proc.stderr.strip().replace(str(tmp), "…")
        one = proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        print(f"| {label} | {proc.returncode} | `{line if one else 'NOT ONE LINE: ' + line[:200]}` |")
    print()


def history_findings(history: Path, tmp: Path) -> None:
    from bench.privacy import findings

    ws = tmp / f"hist-{history.name}"
    proc = gitlm("scrape", str(history), "--out", str(ws))
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((ws / "MANIFEST.json").read_text())["phases"]["scrape"]["stats"]
    rows = findings(ws / "commits.jsonl")
    print(f"### {history}: {stats['total_commits']:,} commits, {stats['secrets_redacted']} redactions "
          f"{json.dumps(stats['secrets_by_type'])}\n")
    for (kind, where, line), n in Counter(rows).most_common():
        print(f"    {n:3d} x {kind:14s} {where}: {line}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        planted_table(tmp)
        bad_inputs(tmp)
        for history in args.history:
            history_findings(history, tmp)


if __name__ == "__main__":
    main()
