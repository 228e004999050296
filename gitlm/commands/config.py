"""`gitlm config show`: the effective configuration."""

from __future__ import annotations

import typer

from gitlm.commands.base import ConfigOption, app, out
from gitlm.config import dump_config, load_config

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(config_file: ConfigOption = None) -> None:
    """Print the effective configuration (defaults merged with gitlm.yaml) as YAML."""
    out.print(dump_config(load_config(config_file)), end="", markup=False, highlight=False)
