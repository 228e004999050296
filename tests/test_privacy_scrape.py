"""The scraper with privacy on: secrets never reach the workspace, path filters shape the
records, and the counts land in the stats and MANIFEST.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitlm.config import PrivacyConfig, ScrapeConfig
from gitlm.scrape import ScrapeStats, scrape
from tests.privacy_fixtures import (
    MESSAGE_TOKEN, PRIVATE_KEY_BODY, all_types, build_secret_history, files_containing, leak_needles, planted_secrets,
)


def gitlm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture
def leaky(make_repo):
    return build_secret_history(make_repo)


def test_no_secret_reaches_any_workspace_file(leaky, tmp_path):
    ws = tmp_path / "ws"
    proc = gitlm("scrape", str(leaky.path), "--out", str(ws), "--json", "--stats", "--verbose")
    assert proc.returncode == 0, proc.stderr
    assert files_containing(ws, leak_needles()) == {}
    # ... nor the terminal
    assert not [n for n in leak_needles() if n in proc.stdout or n in proc.stderr]

    stats = json.loads((ws / "MANIFEST.json").read_text())["phases"]["scrape"]["stats"]
    # every secret was added in one commit and removed in a later one: two redactions each,
    # plus the token in a commit message
    expected = {kind: 2 for kind in all_types()}
    expected["github_token"] += 1
    assert stats["secrets_by_type"] == expected
    assert stats["secrets_redacted"] == sum(expected.values()) == 35
    assert stats["secret_redaction"] is True
    assert "redacted 35 secrets" in proc.stderr and "secrets redacted" in proc.stdout

    commits = [json.loads(line) for line in (ws / "commits.jsonl").read_text().splitlines()]
    added = {f["path"]: f["patch"] for f in commits[0]["files"]}
    for planted in planted_secrets():
        assert planted.line.replace(planted.value, f"<SECRET:{planted.type}>") in added[planted.path], planted.type
    assert added["keys/deploy_key"].count("+<SECRET:private_key>\n") == len(PRIVATE_KEY_BODY)
    assert commits[1]["message_body"] == "Debugged with GITHUB_TOKEN=<SECRET:github_token> (rotated)."
    removed = {f["path"]: f["patch"] for f in commits[2]["files"]}
    assert removed["keys/deploy_key"].count("-<SECRET:private_key>\n") == len(PRIVATE_KEY_BODY)
    # line counts are git's: redaction replaces text inside lines, never lines
    assert [(c["insertions"], c["deletions"]) for c in commits] == _numstat_totals(leaky)


def _numstat_totals(repo) -> list[tuple[int, int]]:
    out = repo.git("log", "--reverse", "--format=tformat:COMMIT", "--numstat")
    totals: list[list[int]] = []
    for line in out.splitlines():
        if line == "COMMIT":
            totals.append([0, 0])
        elif line.strip():
            added, deleted, _ = line.split("\t", 2)
            totals[-1][0] += int(added)
            totals[-1][1] += int(deleted)
    return [(a, d) for a, d in totals]


def test_keep_secrets_warns_and_keeps_them(leaky, tmp_path):
    ws = tmp_path / "ws"
    proc = gitlm("scrape", str(leaky.path), "--out", str(ws), "--keep-secrets")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("warning: secret redaction is OFF (--keep-secrets)")
    found = files_containing(ws, [MESSAGE_TOKEN, planted_secrets()[0].value])
    assert found == {MESSAGE_TOKEN: ["commits.jsonl"], planted_secrets()[0].value: ["commits.jsonl"]}
    phase = json.loads((ws / "MANIFEST.json").read_text())["phases"]["scrape"]
    assert phase["stats"]["secret_redaction"] is False and phase["stats"]["secrets_redacted"] == 0
    assert phase["config"]["privacy"]["redact_secrets"] is False


def test_library_scrape_redacts_by_default(leaky):
    stats = ScrapeStats()
    text = "".join(c.message_body + "".join(f.patch or "" for f in c.files) for c in scrape(leaky.path, stats=stats))
    assert not [n for n in leak_needles() if n in text]
    assert stats.secrets_redacted == 35


@pytest.fixture
def mixed(make_repo):
    repo = make_repo("mixed")
    repo.write("src/app.py", "print('app')\n")
    repo.write("vendor/lib/util.py", "x = 1\ny = 2\n")
    repo.write("package-lock.json", '{\n  "lockfileVersion": 3\n}\n')
    repo.write("static/app.min.js", "var a=1;\n")
    repo.write("proto/api_pb2.py", "# generated\n")
    repo.write("docs/guide.md", "# Guide\n")
    repo.write("data/big.csv", "".join(f"{i},{i * i}\n" for i in range(300)))  # 2,9xx bytes
    repo.commit("initial")
    repo.write("src/app.py", "print('app v2')\n")
    repo.write("vendor/lib/util.py", "x = 1\ny = 3\n")
    repo.commit("update")
    return repo


def _paths(commits):
    return [[f.path for f in c.files] for c in commits]


def test_default_excludes_and_consistent_totals(mixed):
    stats = ScrapeStats()
    first, second = scrape(mixed.path, stats=stats)
    assert _paths([first, second]) == [["data/big.csv", "docs/guide.md", "src/app.py"], ["src/app.py"]]
    for commit in (first, second):
        assert commit.files_changed == len(commit.files)
        assert commit.insertions == sum(f.insertions for f in commit.files)
        assert commit.deletions == sum(f.deletions for f in commit.files)
        assert set(commit.stats) == {f.path for f in commit.files}
    assert first.files_added == ["data/big.csv", "docs/guide.md", "src/app.py"]
    assert first.diff_summary == "Files changed: 3, Insertions: +302, Deletions: -0"
    assert (stats.files_excluded, stats.files_excluded_by_reason) == (5, {"default": 5})
    assert (stats.excluded_insertions, stats.excluded_deletions) == (2 + 3 + 1 + 1 + 1, 1)
    assert stats.insertions == 302 + 1 and stats.files_touched == 3


def test_exclude_include_and_max_file_size(mixed):
    stats = ScrapeStats()
    privacy = PrivacyConfig(exclude=["docs/", "!vendor/"], max_file_size=1000)
    commits = list(scrape(mixed.path, stats=stats, privacy=privacy))
    assert _paths(commits) == [["src/app.py", "vendor/lib/util.py"], ["src/app.py", "vendor/lib/util.py"]]
    assert stats.files_excluded_by_reason == {"default": 3, "exclude": 1, "size": 1}

    stats = ScrapeStats()
    commits = list(scrape(mixed.path, stats=stats, privacy=PrivacyConfig(include=["*.py"], default_excludes=False, max_file_size=0)))
    assert _paths(commits) == [["proto/api_pb2.py", "src/app.py", "vendor/lib/util.py"], ["src/app.py", "vendor/lib/util.py"]]
    assert stats.files_excluded_by_reason == {"include": 4}

    nothing = PrivacyConfig(default_excludes=False, max_file_size=0)
    assert len(list(scrape(mixed.path, privacy=nothing))[0].files) == 7


def test_size_filter_looks_at_both_sides_of_a_change(make_repo):
    repo = make_repo("shrink")
    repo.write("data.txt", "x" * 5000 + "\n")
    repo.commit("big")
    repo.write("data.txt", "small\n")
    repo.commit("shrink")
    repo.write("data.txt", "smaller\n")
    repo.commit("small edit")
    stats = ScrapeStats()
    commits = list(scrape(repo.path, ScrapeConfig(), stats=stats, privacy=PrivacyConfig(max_file_size=4096)))
    assert _paths(commits) == [[], [], ["data.txt"]]
    assert stats.files_excluded_by_reason == {"size": 2}


def test_cli_filter_flags_reach_the_manifest(mixed, tmp_path):
    ws = tmp_path / "ws"
    proc = gitlm("scrape", str(mixed.path), "--out", str(ws), "--exclude", "docs/,data/", "--include", "*.py",
                 "--include", "*.md", "--no-default-excludes", "--max-file-size", "2048", "--stats")
    assert proc.returncode == 0, proc.stderr
    phase = json.loads((ws / "MANIFEST.json").read_text())["phases"]["scrape"]
    assert phase["config"]["privacy"]["exclude"] == ["docs/", "data/"]
    assert phase["config"]["privacy"]["include"] == ["*.py", "*.md"]
    assert phase["stats"]["files_excluded_by_reason"] == {"exclude": 1, "include": 3}
    paths = [[f["path"] for f in json.loads(line)["files"]] for line in (ws / "commits.jsonl").read_text().splitlines()]
    assert paths == [["proto/api_pb2.py", "src/app.py", "vendor/lib/util.py"], ["src/app.py", "vendor/lib/util.py"]]
    assert "files excluded" in proc.stdout


def test_bad_privacy_values_are_one_line(tmp_path, make_repo):
    repo = make_repo("r")
    repo.commit("empty")
    proc = gitlm("scrape", str(repo.path), "--out", str(tmp_path / "ws"), "--max-file-size", "-1")
    assert proc.returncode == 2
    assert proc.stderr == "error: command-line option: privacy.max_file_size: Input should be greater than or equal to 0 (got -1)\n"
    (tmp_path / "gitlm.yaml").write_text("privacy:\n  dedup_threshold: 2\n")
    proc = gitlm("scrape", str(repo.path), "--config", str(tmp_path / "gitlm.yaml"))
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {tmp_path / 'gitlm.yaml'}: privacy.dedup_threshold:")
    assert not (tmp_path / "ws").exists()
