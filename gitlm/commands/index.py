"""`gitlm index load`: put an exported qdrant_points.json into an index anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, out, progress_bar
from gitlm.commands.embed import ModelOption, PrefixOption, QdrantKeyOption, QdrantUrlOption, index_overrides
from gitlm.config import load_config
from gitlm.errors import BadInputError
from gitlm.workspace import Workspace, find_workspace

index_app = typer.Typer(help="Manage the Qdrant index.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("load")
def index_load(
    points_file: Annotated[Path, typer.Argument(help="qdrant_points.json ([{\"id\", \"vector\", \"payload\"}]) to load.")],
    model: ModelOption = None,
    qdrant_url: QdrantUrlOption = None,
    qdrant_api_key: QdrantKeyOption = None,
    collection_prefix: PrefixOption = None,
    workspace: WorkspaceOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Load exported points into the embedded index of a workspace (created if needed) or a Qdrant server.

    --model names the model the vectors came from (default: the packaged all-MiniLM-L6-v2),
    so later searches encode queries with it.
    """
    from gitlm.embed.encoder import ModelInfo
    from gitlm.embed.exports import load_points_file
    from gitlm.embed.store import open_store

    if not points_file.is_file():
        raise BadInputError(f"{points_file} does not exist")
    config = load_config(config_file, index_overrides(model, qdrant_url, qdrant_api_key, collection_prefix))
    if config.index.qdrant_url or config.index.qdrant_path:
        try:
            ws: Workspace | None = find_workspace(workspace, config.out)
        except BadInputError:
            ws = None
    elif workspace is not None or config.out is not None:
        ws = Workspace(workspace or config.out)  # type: ignore[arg-type]
        ws.create()
    else:
        ws = find_workspace(None, None)
    info = ModelInfo.of(config.embed.model)
    with progress_bar("load", "points") as progress:
        task = progress.add_task("load", total=None)
        store = open_store(ws, config.index)
        try:
            if ws is not None and store.backend == "embedded":
                with ws.lock():
                    counts = load_points_file(points_file, store, info, on_progress=lambda n: progress.advance(task, n))
            else:
                counts = load_points_file(points_file, store, info, on_progress=lambda n: progress.advance(task, n))
        finally:
            store.close()
    out.print(f"loaded {counts['commits']:,} commit and {counts['chunks']:,} chunk points into {store.location}", soft_wrap=True)
