"""A repository whose config and attributes try to run commands: gitlm runs none of them
and writes nothing into the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HOSTILE_KEYS = {
    "core.fsmonitor": "fsmonitor",
    "core.pager": "pager",
    "diff.external": "external-diff",
    "diff.evil.textconv": "textconv",
    "diff.evil.command": "diff-driver",
    "filter.evil.clean": "filter-clean",
    "filter.evil.smudge": "filter-smudge",
    "filter.evil.process": "filter-process",
    "gpg.program": "gpg",
    "core.sshCommand": "ssh",
    "core.askPass": "askpass",
    "credential.helper": "credential",
}


def _snapshot(git_dir: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(git_dir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(git_dir.rglob("*")) if p.is_file()}


@pytest.fixture
def hostile(make_repo, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = make_repo("hostile")
    repo.write(".gitattributes", "*.txt diff=evil filter=evil\n")
    repo.write("a.txt", "one\n")
    repo.commit("first")
    repo.write("a.txt", "two\n")
    repo.commit("second")
    return plant_hostile_config(repo, markers), markers


@pytest.fixture
def hostile_with_links(make_repo, tmp_path):
    """The hostile repository, with a third commit adding symlinks to a file outside it."""
    markers = tmp_path / "markers"
    markers.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwords.txt").write_text(f"{OUTSIDE_MARKER}\n")
    repo = make_repo("hostile")
    repo.write(".gitattributes", "*.txt diff=evil filter=evil\n")
    repo.write("a.txt", "one\n")
    repo.write("src/app.py", "def main():\n    return 1\n")
    repo.commit("first")
    repo.write("a.txt", "two\n")
    repo.write("src/app.py", "def main():\n    return 2\n")
    repo.commit("second")
    for i in range(3, 25):  # enough history for a dataset with train/validation/test splits
        repo.write(f"src/mod{i % 4}.py", "".join(f"def f{j}(x):\n    return x * {i + j}\n\n" for j in range(i % 5 + 1)))
        repo.commit(f"feat: step {i}")
    os.symlink(str(outside / "passwords.txt"), repo.path / "absolute-link")
    os.symlink("../outside/passwords.txt", repo.path / "relative-link")
    repo.commit("links pointing out of the repository")
    return plant_hostile_config(repo, markers), markers


OUTSIDE_MARKER = "OUTSIDE-THE-REPOSITORY-" + "7f3a9c"


def plant_hostile_config(repo, markers: Path):
    """Config, hooks and attributes that run a program writing into `markers`."""
    hooks = repo.path / "evil-hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-commit", "reference-transaction", "pre-auto-gc", "post-index-change"):
        script = hooks / hook
        script.write_text(f"#!/bin/sh\ntouch {markers}/hook-{hook}\n")
        script.chmod(0o755)
    repo.git("config", "core.hooksPath", str(hooks))
    for key, name in HOSTILE_KEYS.items():
        repo.git("config", key, f"sh -c 'touch {markers}/{name}; cat'")
    repo.git("config", "log.showSignature", "true")
    repo.git("config", "diff.noprefix", "true")
    repo.git("config", "diff.orderFile", str(repo.path / "a.txt"))
    return repo


def test_the_fixture_is_really_hostile(hostile):
    """Plain git in this repository does run the planted commands (so the test can fail)."""
    repo, markers = hostile
    repo.git("log", "-p", "-1")
    assert (markers / "textconv").exists()


def test_scrape_runs_nothing_and_writes_nothing(hostile, tmp_path):
    repo, markers = hostile
    before = _snapshot(repo.path / ".git")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "gitlm", "scrape", str(repo.path), "--out", str(tmp_path / "ws"), "--json", "--stats"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in markers.iterdir()) == []
    assert _snapshot(repo.path / ".git") == before
    lines = (tmp_path / "ws" / "commits.jsonl").read_text().splitlines()
    assert len(lines) == 2
    # the repository's diff.noprefix could not change the patch format we parse
    assert '"patch":"diff --git a/a.txt b/a.txt' in lines[1]


# -- every gitlm command, with git itself watched ------------------------------------------

GIT_WRAPPER = """#!/bin/sh
printf '%s\\n' "$*" >> "{log}"
exec "{git}" "$@"
"""

# How to run each registered command against the hostile repository's workspace. A command
# that is registered but missing here fails test_every_command_is_covered: add it.
INVOCATIONS: dict[str, list[list[str]]] = {
    "scrape": [["scrape", "{repo}", "--out", "{ws}", "--json", "--stats"]],
    "chunk": [["chunk", "--workspace", "{ws}"]],
    "tokenize": [["tokenize", "--workspace", "{ws}"]],
    "dataset": [["dataset", "--workspace", "{ws}"]],
    "embed": [["embed", "--workspace", "{ws}"]],
    "search": [["search", "settings", "--workspace", "{ws}"]],
    "files": [["files", "settings", "--workspace", "{ws}"]],
    "context": [["context", "settings", "--workspace", "{ws}"]],
    "index": [["index", "load", "{ws}/embeddings/qdrant_points.json", "--workspace", "{ws}"]],
    "config": [["config", "show"]],
    "train": [["train", "--workspace", "{ws}", "--model", "tiny", "--max-steps", "2"]],
    "generate": [["generate", "--workspace", "{ws}", "--prompt", "fix", "--max-new-tokens", "4"]],
    "run": [["run", "{repo}", "--out", "{ws}-run"]],
}
# Registered commands this test does not run, and why that is safe.
NOT_RUN = {
    "serve": "a long-running server over the workspace's index; it never opens the repository "
             "(its handlers are the search/files/context/generate functions run above)",
}
# A command whose input phase is not built yet can only say so (exit 2); it still must run nothing.
NEEDS = {"train": "tokenize", "generate": "train", "dataset": "tokenize", "tokenize": "scrape"}
ORDER = ["scrape", "chunk", "tokenize", "dataset", "embed", "search", "files", "context", "index", "train",
         "generate", "config", "run"]

DRIVER = r"""
import json, sys
from gitlm.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["gitlm", *argv]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    results.append(code)
print("RESULTS " + json.dumps(results))
"""


def _registered() -> set[str]:
    from gitlm.commands import app

    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
    names |= {g.name for g in app.registered_groups}
    return names


def test_every_command_is_covered():
    missing = _registered() - set(INVOCATIONS) - set(NOT_RUN)
    assert not missing, f"add an invocation for {sorted(missing)} to INVOCATIONS in tests/test_hostile.py"


def test_every_command_runs_nothing_and_follows_no_symlink(hostile_with_links, tmp_path):
    """Run every registered gitlm command over a hostile repository whose history also holds
    symlinks to a file outside it, with `git` on PATH replaced by a wrapper that logs each
    call: no planted program runs, .git/ is unchanged, every git call carries the safe
    configuration, and the outside file's content reaches no output."""
    repo, markers = hostile_with_links
    before = _snapshot(repo.path / ".git")

    real_git = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "git-calls.log"
    (bin_dir / "git").write_text(GIT_WRAPPER.format(log=log, git=real_git))
    (bin_dir / "git").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"

    ws = tmp_path / "ws"
    names = [name for name in ORDER if name in _registered()]
    runs = [[part.format(repo=repo.path, ws=ws) for part in argv] for name in names for argv in INVOCATIONS[name]]
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(runs)], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    results = json.loads(proc.stdout.rsplit("RESULTS ", 1)[1])
    registered = _registered()

    def expected(name: str) -> int:
        need = NEEDS.get(name)
        return 0 if need is None or (need in registered and expected(need) == 0) else 2

    assert dict(zip([r[0] for r in runs], results)) == {r[0]: expected(r[0]) for r in runs}, proc.stderr[-3000:]

    assert sorted(p.name for p in markers.iterdir()) == []
    assert _snapshot(repo.path / ".git") == before
    calls = log.read_text().splitlines()
    assert calls, "the wrapper saw gitlm's git calls"
    unsafe = [call for call in calls if "-c core.fsmonitor=false -c core.hooksPath=/dev/null -c core.pager=cat" not in call]
    assert unsafe == []
    outputs = [p for root in (ws, tmp_path / "ws-run", tmp_path / "gitlm-out") for p in root.rglob("*") if p.is_file()]
    assert outputs, "the commands wrote a workspace"
    assert [p for p in outputs if OUTSIDE_MARKER.encode() in p.read_bytes()] == []
    assert OUTSIDE_MARKER not in proc.stdout and OUTSIDE_MARKER not in proc.stderr
    # the links themselves were scraped as links: their target path, not the file behind it
    commits = [json.loads(line) for line in (ws / "commits.jsonl").read_text().splitlines()]
    links = {f["path"]: f for f in commits[-1]["files"]}
    assert links["relative-link"]["is_symlink"] and "+../outside/passwords.txt" in links["relative-link"]["patch"]
