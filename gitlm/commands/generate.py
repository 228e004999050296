"""`gitlm generate`: continue a prompt with the workspace model (or any model directory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from gitlm.commands.base import ConfigOption, WorkspaceOption, app, out
from gitlm.config import load_config


@app.command()
def generate(
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Text to continue, e.g. \"<COMMIT> a1b2c3d <AUTHOR>\" (markers are single tokens).")],
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Model directory (default: <workspace>/model).")] = None,
    workspace: WorkspaceOption = None,
    max_new_tokens: Annotated[Optional[int], typer.Option(help="Tokens to generate (default 64).")] = None,
    temperature: Annotated[Optional[float], typer.Option(help="Sampling temperature; 0 = greedy (default 0.8).")] = None,
    top_p: Annotated[Optional[float], typer.Option(help="Nucleus sampling mass (default 0.95).")] = None,
    num_return_sequences: Annotated[Optional[int], typer.Option(help="Completions to return (default 1).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for reproducible sampling.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the completions as JSON.")] = False,
    config_file: ConfigOption = None,
) -> None:
    """Generate text after PROMPT; each completion stops at the end-of-document token."""
    from gitlm.train import generate as run_generation
    from gitlm.workspace import find_workspace

    config = load_config(config_file, {"generate": {
        "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
        "num_return_sequences": num_return_sequences, "seed": seed,
    }})
    ws_root = None
    if model is None:
        ws_root = find_workspace(workspace, config.out).root
    g = config.generate
    results = run_generation(prompt, model=model, workspace=ws_root, max_new_tokens=g.max_new_tokens,
                             temperature=g.temperature, top_p=g.top_p, num_return_sequences=g.num_return_sequences,
                             seed=g.seed)
    if as_json:
        out.print_json(json.dumps([r.as_dict() for r in results]))
        return
    for index, result in enumerate(results):
        if len(results) > 1:
            out.print(f"[dim]--- {index + 1} ---[/]")
        out.print(f"[bold]{_escape(result.prompt)}[/]{_escape(result.completion)}", highlight=False, soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
