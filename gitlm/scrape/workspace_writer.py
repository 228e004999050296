"""Write a scrape into a workspace: commits.jsonl, optional git_history.json, MANIFEST.json."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from gitlm.config import GitlmConfig
from gitlm.schema import encode_commit
from gitlm.scrape.git import Repository, open_repository, run_git
from gitlm.scrape.refs import read_refs
from gitlm.scrape.scraper import scrape
from gitlm.scrape.stats import ScrapeStats
from gitlm.workspace import PhaseTimer, Workspace, fingerprint, library_versions, utc_now

COMMITS = "commits.jsonl"
HISTORY_JSON = "git_history.json"


def default_workspace(repo: Repository) -> Path:
    return Path("gitlm-out") / repo.name


def scrape_to_workspace(
    path: Path | str,
    config: GitlmConfig | None = None,
    *,
    on_start: Callable[[int], None] | None = None,
    on_commit: Callable[[], None] | None = None,
) -> tuple[Workspace, ScrapeStats]:
    """Scrape a repository into its workspace and record the phase in MANIFEST.json."""
    config = config or GitlmConfig()
    repo = open_repository(path)
    workspace = Workspace(config.out or default_workspace(repo))
    stats = ScrapeStats()
    with workspace.lock():
        workspace.read_manifest()  # a corrupt manifest stops the run before any output is replaced
        timer = PhaseTimer()
        refs = read_refs(repo, config.scrape.branches)
        with workspace.atomic_writer(COMMITS) as out:
            for commit in scrape(repo, config.scrape, stats=stats, refs=refs, temp_dir=workspace.root, on_start=on_start,
                                 privacy=config.privacy):
                out.write(encode_commit(commit))
                out.write(b"\n")
                if on_commit is not None:
                    on_commit()
        outputs = [COMMITS]
        if config.scrape.history_json:
            write_history_json(workspace, repo, stats)
            outputs.append(HISTORY_JSON)
        phase_config = config.scrape.model_dump(mode="json") | {"privacy": config.privacy.model_dump(mode="json")}
        result = {
            "status": "completed",
            **timer.finish(),
            "outputs": outputs,
            "stats": stats.as_dict(),
            "config": phase_config,
            "fingerprint": fingerprint(refs.ref_tips, phase_config),
            "error": None,
        }
        workspace.record_phase(
            "scrape",
            result,
            repository={"name": repo.name, "path": str(repo.path), "bare": repo.is_bare, "shallow": repo.is_shallow},
            versions=library_versions("msgspec", "pydantic", "typer") | {"git": _git_version()},
        )
    return workspace, stats


def write_history_json(workspace: Workspace, repo: Repository, stats: ScrapeStats) -> None:
    """git_history.json: {"metadata": {...}, "commits": [...]}, pretty, built from commits.jsonl."""
    metadata: dict[str, Any] = {
        "repository": repo.name,
        "path": str(repo.path),
        "generated_at": utc_now(),
        "stats": stats.as_dict(),
    }
    encoded_meta = msgspec.json.format(msgspec.json.encode(metadata), indent=2).decode()
    with workspace.atomic_writer(HISTORY_JSON) as out, open(workspace.path(COMMITS), "rb") as lines:
        out.write(b'{\n  "metadata": ' + textwrap.indent(encoded_meta, "  ")[2:].encode() + b',\n  "commits": [')
        first = True
        for line in lines:
            pretty = msgspec.json.format(line.rstrip(b"\n"), indent=2).decode()
            out.write((b"\n" if first else b",\n") + textwrap.indent(pretty, "    ").encode())
            first = False
        out.write(b"\n  ]\n}\n")


def _git_version() -> str:
    return run_git(None, "--version").decode().strip().removeprefix("git version ")
