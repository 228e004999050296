"""`gitlm search`, `gitlm files`, `gitlm context`: questions to the index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, out
from gitlm.commands.embed import (
    DeviceOption, ModelOption, PrefixOption, QdrantKeyOption, QdrantUrlOption, index_overrides, index_workspace, print_json,
)
from gitlm.config import load_config

QueryArgument = Annotated[str, typer.Argument(help="What to look for, in plain words.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _open(workspace: Path | None, config_file: Path | None, model: Path | None, qdrant_url: str | None,
          qdrant_api_key: str | None, collection_prefix: str | None, device: str | None):
    from gitlm.embed import SemanticIndex

    config = load_config(config_file, index_overrides(model, qdrant_url, qdrant_api_key, collection_prefix, device))
    return SemanticIndex.open(index_workspace(workspace, config), config)


@app.command()
def search(
    query: QueryArgument,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="How many results.")] = 5,
    kind: Annotated[str, typer.Option("--kind", help="commits or chunks.")] = "commits",
    author: Annotated[Optional[str], typer.Option("--author", help="Only this author (exact name or e-mail).")] = None,
    path_prefix: Annotated[Optional[str], typer.Option("--path-prefix", help="Only changes to this file or directory (whole path components).")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Only commits authored on/after this ISO date or date-time.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Only commits authored on/before this ISO date or date-time.")] = None,
    as_json: JsonOption = False,
    model: ModelOption = None,
    device: DeviceOption = None,
    qdrant_url: QdrantUrlOption = None,
    qdrant_api_key: QdrantKeyOption = None,
    collection_prefix: PrefixOption = None,
    workspace: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Find the commits (or code chunks) closest in meaning to QUERY."""
    with _open(workspace, config_file, model, qdrant_url, qdrant_api_key, collection_prefix, device) as index:
        results = index.search(query, top_k=top_k, kind=kind, author=author, path_prefix=path_prefix, since=since, until=until)
    if as_json:
        print_json(results)
        return
    if not results:
        out.print("no matches")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("score", justify="right")
    table.add_column("commit")
    table.add_column("date")
    table.add_column("author")
    chunks = results[0]["kind"] == "chunk"
    table.add_column("file :: function" if chunks else "subject", overflow="fold")
    for hit in results:
        what = f"{hit['file_path']} :: {hit['function_name'] or '-'}" if chunks else hit["subject"]
        table.add_row(f"{hit['score']:.3f}", hit["short_hash"], str(hit["date"])[:10], hit["author"], what)
    out.print(table)


@app.command()
def files(
    query: QueryArgument,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="How many files.")] = 10,
    neighbours: Annotated[int, typer.Option("--neighbours", help="How many similar commits vote.")] = 50,
    as_json: JsonOption = False,
    model: ModelOption = None,
    device: DeviceOption = None,
    qdrant_url: QdrantUrlOption = None,
    qdrant_api_key: QdrantKeyOption = None,
    collection_prefix: PrefixOption = None,
    workspace: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Rank the files a task described by QUERY will likely touch."""
    with _open(workspace, config_file, model, qdrant_url, qdrant_api_key, collection_prefix, device) as index:
        results = index.related_files(query, top_k=top_k, neighbours=neighbours)
    if as_json:
        print_json(results)
        return
    if not results:
        out.print("no files: no similar commits changed a file that still exists")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("score", justify="right")
    table.add_column("commits", justify="right")
    table.add_column("last change")
    table.add_column("file", overflow="fold")
    for entry in results:
        table.add_row(f"{entry['score']:.3f}", str(entry["commits"]), str(entry["last_date"] or "")[:10], entry["path"])
    out.print(table)


@app.command()
def context(
    query: QueryArgument,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Token budget for the block (estimated as characters / 4).")] = 2000,
    as_json: JsonOption = False,
    model: ModelOption = None,
    device: DeviceOption = None,
    qdrant_url: QdrantUrlOption = None,
    qdrant_api_key: QdrantKeyOption = None,
    collection_prefix: PrefixOption = None,
    workspace: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Print a Markdown block about QUERY for an LLM prompt: relevant commits, code, files, recent activity."""
    with _open(workspace, config_file, model, qdrant_url, qdrant_api_key, collection_prefix, device) as index:
        result = index.context(query, max_tokens=max_tokens)
    if as_json:
        print_json(result)
        return
    out.print(result["markdown"], markup=False, highlight=False, soft_wrap=True, end="")
