"""gitlm: a git repository's history as a training corpus, a search index and a model.

Library entry points mirror the CLI: `gitlm.scrape(path)` yields Commit records.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy so `import gitlm` stays cheap and `gitlm --help` starts fast.
    if name == "scrape":
        from gitlm.scrape import scrape

        return scrape
    raise AttributeError(name)
