"""The gitlm subcommands, one module each; importing a module registers its command.

Add a new subcommand by adding its module to the import below.
"""

from gitlm.commands import config, scrape  # noqa: F401  (registration)
from gitlm.commands import chunk  # noqa: F401  (registration: chunk)
from gitlm.commands import embed, index, search, serve  # noqa: F401  (registration: embed/search/files/context/index/serve)
from gitlm.commands import generate, train  # noqa: F401  (registration: train/generate)
from gitlm.commands import dataset, tokenize  # noqa: F401  (registration: tokenize/dataset)
from gitlm.commands import run  # noqa: F401  (registration: run)
from gitlm.commands.base import app

__all__ = ["app"]
