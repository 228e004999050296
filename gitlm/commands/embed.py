"""`gitlm embed`: commits.jsonl + chunks.jsonl -> Qdrant index (+ exports).

Also defines the options every index command shares (--model, --qdrant-url, ...).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, err, out, progress_bar
from gitlm.config import GitlmConfig, load_config
from gitlm.errors import BadInputError
from gitlm.workspace import Workspace, find_workspace

ModelOption = Annotated[Optional[Path], typer.Option("--model", help="Local sentence-transformers model directory (default: all-MiniLM-L6-v2, packaged).")]
QdrantUrlOption = Annotated[Optional[str], typer.Option("--qdrant-url", help="Qdrant server or cluster URL (default: embedded index in the workspace).")]
QdrantKeyOption = Annotated[Optional[str], typer.Option("--qdrant-api-key", envvar="QDRANT_API_KEY", help="API key for the Qdrant server (or $QDRANT_API_KEY).")]
PrefixOption = Annotated[Optional[str], typer.Option("--collection-prefix", help="Server collections <prefix>_commits/_chunks (default: gitlm_<repo>).")]
DeviceOption = Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps (default: auto).")]


def index_overrides(model: Path | None = None, qdrant_url: str | None = None, qdrant_api_key: str | None = None,
                    collection_prefix: str | None = None, device: str | None = None) -> dict[str, Any]:
    return {
        "embed": {"model": model, "device": device},
        "index": {"qdrant_url": qdrant_url, "qdrant_api_key": qdrant_api_key, "collection_prefix": collection_prefix},
    }


def index_workspace(explicit: Path | None, config: GitlmConfig) -> Workspace | None:
    """The workspace of an index command; optional when the index is on a server."""
    if config.index.qdrant_url or config.index.qdrant_path:
        try:
            return find_workspace(explicit, config.out)
        except BadInputError:
            if explicit is not None:
                raise
            return None
    return find_workspace(explicit, config.out)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@app.command()
def embed(
    model: ModelOption = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Texts per forward pass (default: 32).")] = None,
    device: DeviceOption = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="sentence-transformers backend (default: torch).")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads for encoding (default: torch's choice).")] = None,
    chunks: Annotated[Optional[bool], typer.Option("--chunks/--no-chunks", help="Embed code chunks from chunks.jsonl.")] = None,
    exports: Annotated[Optional[bool], typer.Option("--exports/--no-exports", help="Write embeddings/*.jsonl and qdrant_points.json.")] = None,
    qdrant_url: QdrantUrlOption = None,
    qdrant_api_key: QdrantKeyOption = None,
    collection_prefix: PrefixOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's statistics as JSON.")] = False,
    workspace: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Embed commits (and code chunks) into the Qdrant index; only new ones are encoded."""
    from gitlm.embed import embed_workspace

    overrides = index_overrides(model, qdrant_url, qdrant_api_key, collection_prefix, device)
    overrides["embed"].update(batch_size=batch_size, backend=backend, threads=threads, chunks=chunks, exports=exports)
    config = load_config(config_file, overrides)
    ws = find_workspace(workspace, config.out)
    with progress_bar("embed", "records") as progress:
        tasks: dict[str, Any] = {}

        def on_total(kind: str, total: int) -> None:
            tasks[kind] = progress.add_task(kind, total=total)

        def on_progress(kind: str, n: int) -> None:
            progress.advance(tasks[kind], n)

        stats = embed_workspace(ws, config, on_total=on_total, on_progress=on_progress)
    figures = stats.as_dict()
    if as_json:
        print_json(figures)
        return
    rate = f" ({figures['texts_per_second']:,.0f} texts/s on {stats.device})" if figures["texts_per_second"] else ""
    out.print(
        f"embedded {stats.commits.encoded:,} commits and {stats.chunks.encoded:,} chunks{rate}; "
        f"{stats.commits.already_indexed + stats.chunks.already_indexed:,} already indexed"
        + (f", {stats.commits.removed + stats.chunks.removed:,} removed" if stats.commits.removed + stats.chunks.removed else ""),
        soft_wrap=True,
    )
    out.print(f"index: {stats.store}: {stats.commits.indexed_points:,} commits, {stats.chunks.indexed_points:,} chunks "
              f"({stats.model}, {stats.dim}-d)", soft_wrap=True)
    if stats.chunks.skipped_reason and config.embed.chunks:
        err.print(f"[yellow]note:[/] chunks not embedded: {stats.chunks.skipped_reason}", soft_wrap=True)
