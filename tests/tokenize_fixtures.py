"""A small history with known dates and every kind of change the tokenize strategies render,
built with real git; and helpers to scrape and tokenize it in a test."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gitlm.config import load_config
from gitlm.scrape import scrape_to_workspace
from gitlm.workspace import Workspace
from tests.gitrepo import BASE_TIME, GitRepo
from tests.histories import PNG_BYTES

APP_V1 = "def hello(name):\n    return f'hello {name}'\n"
APP_V2 = "def hello(name):\n    return f'Hello, {name}!'\n"
README = "# Proj\n\nNaïve ünïcödé — 日本語 🎉\n"
GRACE = ("Grace Hopper", "grace@example.com")
STEPS = 12  # extra commits, so the fixture has 20 (one hour apart)


def commit_time(tick: int) -> int:
    """Unix time of the fixture's tick-th commit (GitRepo dates commit n at BASE_TIME + n h)."""
    return BASE_TIME + tick * 3600


def build_tokenize_history(make_repo) -> GitRepo:
    """20 commits, one hour apart: add, modify (another author), a branch and its merge, a
    rename, a binary file, a deletion, then STEPS small distinct edits."""
    repo = make_repo("proj")
    repo.write("src/app.py", APP_V1)
    repo.write("README.md", README)
    repo.commit("feat(app): initial import\n\nAdds hello().\n")  # 1
    repo.write("src/app.py", APP_V2)
    repo.commit("fix(app): greet politely (#3)", author=GRACE)  # 2
    repo.git("checkout", "-q", "-b", "feature/cli")
    repo.write("src/cli.py", "import sys\n\nfrom app import hello\n\nprint(hello(sys.argv[1]))\n")
    repo.commit("feat(cli): add a command line")  # 3
    repo.git("checkout", "-q", "main")
    repo.write("docs/guide.md", "# Guide\n\nRun `python src/cli.py NAME`.\n")
    repo.commit("docs: add a guide")  # 4
    repo.merge("feature/cli", message="Merge branch 'feature/cli'")  # 5
    repo.git("mv", "src/cli.py", "src/command.py")
    repo.commit("refactor: rename cli to command")  # 6
    repo.write("assets/logo.png", PNG_BYTES)
    repo.commit("Add a logo")  # 7
    repo.git("rm", "-q", "docs/guide.md")
    repo.commit("Remove the guide")  # 8
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima"]
    for step, word in enumerate(words[:STEPS]):
        repo.write(f"src/{word}.py", f"def {word}():\n    return {step * 7 + 1} * {word.upper()!r}\n" * (step + 1))
        repo.commit(f"feat({word}): add the {word} module with {step + 1} functions")  # 9..20
    repo.tag("v1.0")
    return repo


def scraped_workspace(repo: GitRepo, root: Path) -> Workspace:
    config = load_config(None, {"out": root})
    workspace, _ = scrape_to_workspace(repo.path, config)
    return workspace


def copy_workspace(source: Workspace, root: Path) -> Workspace:
    shutil.copytree(source.root, root)
    return Workspace(root)


def config(**sections: dict[str, Any]):
    """load_config with overrides; near-duplicate removal off unless a test turns it on."""
    overrides: dict[str, Any] = {"privacy": {"dedup": False}}
    for name, values in sections.items():
        overrides[name] = {**overrides.get(name, {}), **values}
    return load_config(None, overrides)
