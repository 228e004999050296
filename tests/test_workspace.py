from __future__ import annotations

import json

import pytest

from gitlm.config import GitlmConfig
from gitlm.errors import GitlmError, WorkspaceBusyError
from gitlm.scrape import scrape_to_workspace
from gitlm.workspace import Workspace, fingerprint


def test_atomic_writer_keeps_old_file_on_failure(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.write_json("data.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with ws.atomic_writer("data.json", "w") as handle:
            handle.write('{"v": 2, "half')
            raise RuntimeError("killed mid-write")
    assert json.loads(ws.path("data.json").read_text()) == {"v": 1}
    assert [p.name for p in ws.root.iterdir()] == ["data.json"]


def test_lock_is_exclusive_and_reentrant_in_its_thread(tmp_path):
    import threading

    ws = Workspace(tmp_path / "ws")
    refused = []

    def other_thread() -> None:
        try:
            with Workspace(tmp_path / "ws").lock():
                pass
        except WorkspaceBusyError as exc:
            refused.append(str(exc))

    with ws.lock():
        with Workspace(tmp_path / "ws").lock():  # the same thread again: gitlm run's phases
            pass
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert len(refused) == 1 and "in use by another gitlm run" in refused[0]
    with ws.lock():  # released
        pass


def test_lock_removes_temp_files_a_killed_run_left(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.write_json("MANIFEST.json", {"phases": {}})
    (ws.root / "tokens").mkdir()
    stale = [ws.path(".commits.jsonl.tmp-999999"), ws.path("tokens/.train.bin.tmp-999998")]
    for path in stale:
        path.write_text("half")
    ws.path(".tokenizer.tmp-999997").mkdir()
    with ws.lock():
        pass
    assert not any(p.exists() for p in stale) and not ws.path(".tokenizer.tmp-999997").exists()
    assert ws.path("MANIFEST.json").is_file()


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    ws = Workspace(tmp_path)
    ws.path("MANIFEST.json").write_text('{"phases": {')
    with pytest.raises(GitlmError, match="MANIFEST.json is corrupt"):
        ws.read_manifest()


def test_interrupted_scrape_keeps_previous_output(make_repo, tmp_path):
    repo = make_repo()
    for i in range(3):
        repo.write("f.txt", f"{i}\n")
        repo.commit(f"c{i}")
    config = GitlmConfig(out=tmp_path / "ws")
    ws, _ = scrape_to_workspace(repo.path, config)
    before = ws.path("commits.jsonl").read_bytes()
    repo.write("f.txt", "new\n")
    repo.commit("c3")

    seen = []

    def crash():
        seen.append(1)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scrape_to_workspace(repo.path, config, on_commit=crash)
    assert ws.path("commits.jsonl").read_bytes() == before
    assert sorted(p.name for p in ws.root.iterdir() if not p.name.startswith(".gitlm")) == ["MANIFEST.json", "commits.jsonl"]
    scrape_to_workspace(repo.path, config)
    assert ws.path("commits.jsonl").read_bytes().count(b"\n") == 4


def test_fingerprint_is_order_independent_for_keys():
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_find_workspace(tmp_path, monkeypatch):
    from gitlm.errors import BadInputError
    from gitlm.workspace import find_workspace

    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match="no workspace found"):
        find_workspace()
    Workspace(tmp_path / "gitlm-out" / "a").write_json("MANIFEST.json", {"phases": {}})
    assert find_workspace().root.resolve() == tmp_path / "gitlm-out" / "a"
    Workspace(tmp_path / "gitlm-out" / "b").write_json("MANIFEST.json", {"phases": {}})
    with pytest.raises(BadInputError, match="several workspaces"):
        find_workspace()
    assert find_workspace(tmp_path / "gitlm-out" / "b").root.name == "b"
    with pytest.raises(BadInputError, match="does not exist"):
        find_workspace(tmp_path / "nope")


def test_iter_jsonl_reports_corrupt_line(tmp_path):
    from gitlm.schema import Person, encode_record, iter_jsonl

    path = tmp_path / "people.jsonl"
    path.write_bytes(encode_record(Person("a", "a@x")) + b"\n" + b'{"name": "b", "em')
    records = iter_jsonl(path, Person)
    assert next(records) == Person("a", "a@x")
    with pytest.raises(GitlmError, match="people.jsonl line 2 is corrupt"):
        next(records)
