"""Write a scrape into a workspace: commits.jsonl, optional git_history.json, MANIFEST.json."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from gitlm.config import GitlmConfig
from gitlm.schema import encode_commit
from gitlm.scrape.git import Repository, open_repository, run_git
from gitlm.scrape.incremental import append_new_commits
from gitlm.scrape.refs import read_refs
from gitlm.scrape.scraper import scrape
from gitlm.scrape.stats import ScrapeStats
from gitlm.workspace import PhaseTimer, Workspace, fingerprint, library_versions, utc_now

COMMITS = "commits.jsonl"
HISTORY_JSON = "git_history.json"


def default_workspace(repo: Repository) -> Path:
    return Path("gitlm-out") / repo.name


def scrape_fingerprint(refs_tips: dict[str, str], phase_config: dict[str, Any]) -> str:
    return fingerprint(refs_tips, phase_config)


def phase_config_of(config: GitlmConfig) -> dict[str, Any]:
    """The settings a scrape's output depends on (the manifest's phases.scrape.config)."""
    return config.scrape.model_dump(mode="json") | {"privacy": config.privacy.model_dump(mode="json")}


def scrape_to_workspace(
    path: Path | str,
    config: GitlmConfig | None = None,
    *,
    incremental: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_commit: Callable[[], None] | None = None,
) -> tuple[Workspace, ScrapeStats]:
    """Scrape a repository into its workspace and record the phase in MANIFEST.json.

    With `incremental`, a workspace scraped before with the same settings keeps its
    commits and only the new ones are scraped (gitlm/scrape/incremental.py); the result is
    the file a full scrape would write. The phase records its `mode` (full, incremental) and
    a `lineage`: an id kept by incremental scrapes and renewed by full ones, so a later phase
    knows its earlier output still describes a prefix of commits.jsonl.
    """
    config = config or GitlmConfig()
    repo = open_repository(path)
    workspace = Workspace(config.out or default_workspace(repo))
    stats = ScrapeStats()
    with workspace.lock():
        manifest = workspace.read_manifest()  # a corrupt manifest stops the run before any output is replaced
        timer = PhaseTimer()
        refs = read_refs(repo, config.scrape.branches)
        phase_config = phase_config_of(config)
        previous = manifest["phases"].get("scrape") or {}
        can_append = (incremental and previous.get("status") == "completed" and previous.get("config") == phase_config
                      and previous.get("lineage") and workspace.path(COMMITS).is_file())
        mode, lineage, appended = "full", uuid.uuid4().hex, None
        with workspace.atomic_writer(COMMITS) as out:
            if can_append:
                appended = append_new_commits(repo, config.scrape, config.privacy, refs, workspace.path(COMMITS), out,
                                              stats, previous.get("stats") or {}, workspace.root,
                                              on_start=on_start, on_commit=on_commit)
                if appended is not None:
                    mode, lineage = "incremental", previous["lineage"]
                else:  # not a prefix any more (rewritten history, new commits dated earlier): start again
                    out.seek(0)
                    out.truncate()
                    stats = ScrapeStats()
            if appended is None:
                for commit in scrape(repo, config.scrape, stats=stats, refs=refs, temp_dir=workspace.root,
                                     on_start=on_start, privacy=config.privacy):
                    out.write(encode_commit(commit))
                    out.write(b"\n")
                    if on_commit is not None:
                        on_commit()
        outputs = [COMMITS]
        if config.scrape.history_json:
            write_history_json(workspace, repo, stats)
            outputs.append(HISTORY_JSON)
        result = {
            "status": "completed",
            **timer.finish(),
            "outputs": outputs,
            "stats": stats.as_dict(),
            "config": phase_config,
            "fingerprint": scrape_fingerprint(refs.ref_tips, phase_config),
            "mode": mode,
            "lineage": lineage,
            "commits_kept": appended[0] if appended else 0,
            "commits_scraped": appended[1] if appended else stats.total_commits,
            "ref_tips": refs.ref_tips,
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
