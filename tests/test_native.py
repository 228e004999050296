"""The compiled chunker modules (gitlm/native.py): used exactly when they match the sources,
and they chunk byte for byte as the plain Python modules do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

import gitlm.chunk.outline
from gitlm import native
from gitlm.chunk import chunk_workspace
from gitlm.config import GitlmConfig
from gitlm.scrape import scrape_to_workspace
from tests.chunk_histories import build_project
from tests.test_chunk_rebuild import _history


def test_status_says_which_modules_run():
    build = native._current_build()
    compiled = gitlm.chunk.outline.__file__.endswith(sysconfig.get_config_var("EXT_SUFFIX"))
    if isinstance(build, dict) and os.environ.get("GITLM_NATIVE", "1") != "0":
        assert native.STATUS == "compiled" and compiled
    else:
        assert native.STATUS.startswith("plain Python (") and not compiled


def test_an_edited_source_is_not_served_compiled(tmp_path, monkeypatch):
    if not (native.TARGET / native.MANIFEST).is_file():
        pytest.skip("nothing compiled on this machine (no C compiler)")
    copy = tmp_path / "chunk"
    shutil.copytree(native.SOURCE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(native, "SOURCE_DIR", copy)
    assert isinstance(native._current_build(), dict)
    (copy / "select.py").write_text((copy / "select.py").read_text() + "\n# an edit\n")
    assert native._current_build() == "sources changed since the build: run scripts/setup"


def test_plain_python_chunks_the_same(make_repo, tmp_path):
    outputs = {}
    for repo in (build_project(make_repo)[0], _history(make_repo)):
        for mode in ("1", "0"):
            workspace = tmp_path / f"{repo.path.name}-{mode}"
            config = GitlmConfig(out=workspace)
            scrape_to_workspace(repo.path, config)
            if mode == "1":
                chunk_workspace(workspace, config)  # this process: compiled when built
            else:
                code = f"from gitlm.chunk import chunk_workspace; chunk_workspace({str(workspace)!r})"
                subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "GITLM_NATIVE": "0"})
            outputs[repo.path.name, mode] = (workspace / "chunks.jsonl").read_bytes()
        assert outputs[repo.path.name, "1"] == outputs[repo.path.name, "0"]
        assert outputs[repo.path.name, "1"].count(b"\n") > 10


def test_a_source_mypyc_rejects_fails_the_build(tmp_path, monkeypatch):
    pytest.importorskip("mypyc")
    copy = tmp_path / "gitlm"
    shutil.copytree(native.SOURCE_DIR.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "chunk" / "tokens.py").write_text((copy / "chunk" / "tokens.py").read_text() + '\nBROKEN: int = "text"\n')
    monkeypatch.setattr(native, "SOURCE_DIR", copy / "chunk")
    with pytest.raises(RuntimeError, match="mypyc failed: .*tokens.py.*Incompatible types"):
        native.build(tmp_path / "native")
    assert not (tmp_path / "native").exists()  # nothing half-built is left to be served
