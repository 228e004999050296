"""Build real git repositories for tests, reproducibly: fixed identities and dates, and the
user's global/system git config kept out, so every hash is the same on every machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASE_TIME = 1_700_000_000  # 2023-11-14T22:13:20Z


def git_test_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Ada Lovelace",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada Lovelace",
        GIT_COMMITTER_EMAIL="ada@example.com",
        LC_ALL="C",
    )
    return env


class GitRepo:
    """A repository in a directory, driven with real git commands."""

    def __init__(self, path: Path, env: dict[str, str], init: bool = True, bare: bool = False):
        self.path = Path(path)
        self.env = dict(env)
        self.tick = 0
        if init:
            self.path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    def git(self, *args: str | bytes, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(
            ["git", "-c", "protocol.file.allow=always", *args], cwd=self.path, env=env or self.env,
            input=input, capture_output=True,
        )
        if proc.returncode != 0:
            raise AssertionError(f"git {args} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode("utf-8", "replace")

    def git_bytes(self, *args: str) -> bytes:
        return subprocess.run(["git", *args], cwd=self.path, env=self.env, capture_output=True, check=True).stdout

    def write(self, name: str | bytes, content: str | bytes = "") -> Path:
        raw_name = name if isinstance(name, bytes) else name.encode()
        target = os.path.join(os.fsencode(self.path), raw_name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)
        return Path(os.fsdecode(target))

    def _dated_env(self, author: tuple[str, str] | None, offset: str) -> dict[str, str]:
        self.tick += 1
        stamp = f"{BASE_TIME + self.tick * 3600} {offset}"
        env = dict(self.env, GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        if author:
            env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1])
        return env

    def commit(self, message: str | bytes, *extra: str, author: tuple[str, str] | None = None, offset: str = "+0000", add: bool = True) -> str:
        """Stage everything and commit with the next fixed date; return the new hash."""
        env = self._dated_env(author, offset)
        if add:
            self.git("add", "-A", env=env)
        raw = message if isinstance(message, bytes) else message.encode()
        self.git("commit", "-q", "--allow-empty", "--no-verify", "-F", "-", *extra, input=raw, env=env)
        return self.head()

    def commit_raw(self, message: bytes) -> str:
        """Commit the staged tree with a message stored byte for byte (git commit would
        re-encode invalid UTF-8 as Latin-1; hash-object keeps it as is)."""
        env = self._dated_env(None, "+0000")
        self.git("add", "-A")
        tree = self.git("write-tree").strip()
        parent = self.head()
        stamp = env["GIT_AUTHOR_DATE"]
        ident = f"{env['GIT_AUTHOR_NAME']} <{env['GIT_AUTHOR_EMAIL']}> {stamp}"
        body = f"tree {tree}\nparent {parent}\nauthor {ident}\ncommitter {ident}\n\n".encode() + message
        new = self.git("hash-object", "-t", "commit", "-w", "--stdin", input=body).strip()
        self.git("update-ref", "HEAD", new)
        return new

    def merge(self, *branches: str, message: str = "merge", extra: tuple[str, ...] = ()) -> str:
        env = self._dated_env(None, "+0000")
        self.git("merge", "-q", "--no-ff", "--no-edit", "-m", message, *extra, *branches, env=env)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def tag(self, name: str, target: str = "HEAD", annotated: bool = False) -> None:
        env = self._dated_env(None, "+0000")
        if annotated:
            self.git("tag", "-a", name, "-m", f"release {name}", target, env=env)
        else:
            self.git("tag", name, target, env=env)
