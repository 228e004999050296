"""Bad input across the CLI: each gives one clear line, a non-zero exit, and leaves no
half-written output (no temp files, the previous outputs unchanged)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitlm import workspace as workspace_module


def gitlm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, cwd=cwd, env=env)


def run_in_process(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process, so a test can inject a failure (monkeypatch)."""
    from gitlm.cli import main

    monkeypatch.setattr(sys, "argv", ["gitlm", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".gitlm.lock"}


@pytest.fixture
def repo(make_repo):
    repo = make_repo("small")
    repo.write("src/app.py", "print('one')\n")
    repo.commit("first")
    repo.write("src/app.py", "print('two')\n")
    repo.commit("second")
    return repo


@pytest.fixture
def scraped(repo, tmp_path):
    ws = tmp_path / "ws"
    proc = gitlm("scrape", str(repo.path), "--out", str(ws), "--json")
    assert proc.returncode == 0, proc.stderr
    return ws


def test_missing_path(tmp_path):
    proc = gitlm("scrape", str(tmp_path / "nope"), "--out", str(tmp_path / "ws"))
    assert (proc.returncode, proc.stderr) == (2, f"error: {tmp_path / 'nope'} does not exist\n")
    assert not (tmp_path / "ws").exists()


def test_file_instead_of_repository(tmp_path):
    plain = tmp_path / "notes.txt"
    plain.write_text("hello\n")
    proc = gitlm("scrape", str(plain), "--out", str(tmp_path / "ws"))
    assert (proc.returncode, proc.stderr) == (2, f"error: {plain} is not a git repository\n")
    assert not (tmp_path / "ws").exists()


def test_unreadable_directory(tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:  # a real permission check; root reads everything, so it is simulated below
        locked.chmod(0)
        try:
            proc = gitlm("scrape", str(locked), "--out", str(tmp_path / "ws"))
        finally:
            locked.chmod(0o755)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is not readable" in proc.stderr
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == locked else real_access(path, mode, **kw))
    code, _, err = run_in_process(monkeypatch, capsys, "scrape", str(locked), "--out", str(tmp_path / "ws"))
    # the command line's own check (click) answers first: "Invalid value for 'repo': path ... is not readable."
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and f"{locked}' is not readable" in err
    from gitlm.errors import BadInputError
    from gitlm.scrape.git import open_repository  # and the library's, for callers that bypass the CLI

    with pytest.raises(BadInputError, match=f"^{locked} is not readable$"):
        open_repository(locked)
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("yaml_text, message", [
    ("scrape:\n  max_patch_byte: 10\n", "unknown key 'scrape.max_patch_byte'"),
    ("privacy:\n  max_file_size: lots\n", "privacy.max_file_size: Input should be a valid integer, unable to parse string as an integer (got 'lots')"),
    ("privacy: [1, 2\n", "not valid YAML (line 2)"),
    ("- just\n- a list\n", "expected a mapping of sections at the top level"),
])
def test_invalid_config(repo, tmp_path, yaml_text, message):
    config = tmp_path / "gitlm.yaml"
    config.write_text(yaml_text)
    proc = gitlm("scrape", str(repo.path), "--out", str(tmp_path / "ws"), "--config", str(config))
    assert (proc.returncode, proc.stderr) == (2, f"error: {config}: {message}\n")
    assert not (tmp_path / "ws").exists()


def test_invalid_flag_value(repo, tmp_path):
    proc = gitlm("scrape", str(repo.path), "--out", str(tmp_path / "ws"), "--since", "yesterday-ish")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: command-line option: scrape.since:")


def test_full_disk_keeps_the_previous_output(repo, scraped, monkeypatch, capsys):
    before = snapshot(scraped)

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(workspace_module.os, "fsync", no_space)
    repo.write("src/app.py", "print('three')\n")
    repo.commit("third")
    code, _, err = run_in_process(monkeypatch, capsys, "scrape", str(repo.path), "--out", str(scraped))
    assert code == 1
    assert err == f"error: cannot write {scraped / 'commits.jsonl'}: No space left on device; nothing was replaced\n"
    assert snapshot(scraped) == before, "nothing half-written, nothing replaced"


def test_os_error_outside_a_write_is_one_line(repo, tmp_path, monkeypatch, capsys):
    from gitlm.scrape import workspace_writer

    def broken(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(workspace_writer, "read_refs", broken)
    code, _, err = run_in_process(monkeypatch, capsys, "scrape", str(repo.path), "--out", str(tmp_path / "ws"))
    assert (code, err) == (1, f"error: {tmp_path / 'x'}: Permission denied\n")


def test_corrupt_manifest_stops_before_replacing_anything(repo, scraped):
    (scraped / "MANIFEST.json").write_text('{"phases": {"scrape": ')
    before = snapshot(scraped)
    proc = gitlm("scrape", str(repo.path), "--out", str(scraped))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {scraped / 'MANIFEST.json'} is corrupt (") and proc.stderr.count("\n") == 1
    assert snapshot(scraped) == before


def test_truncated_jsonl_line_in_a_later_phase(scraped):
    commits = scraped / "commits.jsonl"
    lines = commits.read_bytes().splitlines(keepends=True)
    commits.write_bytes(lines[0] + lines[1][: len(lines[1]) // 2])  # a write cut short
    before = snapshot(scraped)
    for command in _workspace_readers():
        proc = gitlm(*command, "--workspace", str(scraped))
        assert proc.returncode == 1, (command, proc.stderr)
        assert proc.stderr.startswith(f"error: {commits} line 2 is corrupt ("), (command, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert snapshot(scraped) == before, command


def _workspace_readers() -> list[list[str]]:
    """The registered commands that read commits.jsonl from a workspace."""
    from gitlm.commands import app

    names = {command.name or command.callback.__name__ for command in app.registered_commands}
    readers = [["embed", "--no-chunks"]] if "embed" in names else []
    for name in ("chunk", "tokenize"):
        if name in names:
            readers.append([name])
    assert readers, "no command reads commits.jsonl yet"
    return readers


def test_workspace_that_does_not_exist(tmp_path):
    proc = gitlm("embed", "--workspace", str(tmp_path / "none"))
    assert (proc.returncode, proc.stderr) == (2, f"error: workspace {tmp_path / 'none'} does not exist; run `gitlm scrape` first\n")


def test_no_temp_files_after_success(scraped):
    assert not [p for p in scraped.rglob("*") if ".tmp-" in p.name]
    manifest = json.loads((scraped / "MANIFEST.json").read_text())
    assert manifest["phases"]["scrape"]["status"] == "completed"
