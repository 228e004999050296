"""Errors a user sees as one line: the CLI prints `error: <message>` and exits with `exit_code`."""


class GitlmError(Exception):
    """A failure gitlm can explain in one line (exit 1: gitlm or a tool it runs failed)."""

    exit_code = 1


class BadInputError(GitlmError):
    """The user gave something gitlm cannot use: a missing path, a bad config key (exit 2)."""

    exit_code = 2


class WorkspaceBusyError(GitlmError):
    """Another gitlm run holds the workspace lock."""

    exit_code = 1
