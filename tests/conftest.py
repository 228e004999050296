from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gitrepo import GitRepo, git_test_env


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return git_test_env(home)


@pytest.fixture
def make_repo(tmp_path: Path, git_env):
    """make_repo(name) -> an empty GitRepo in tmp_path/name."""

    def _make(name: str = "repo", **kwargs) -> GitRepo:
        return GitRepo(tmp_path / name, git_env, **kwargs)

    return _make


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch):
    """Run each test from its own directory so ./gitlm-out and ./gitlm.yaml never leak."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
