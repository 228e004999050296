"""The gitlm subcommands, one module each; importing a module registers its command.

Add a new subcommand by adding its module to the import below.
"""

from gitlm.commands import config, scrape  # noqa: F401  (registration)
from gitlm.commands.base import app

__all__ = ["app"]
