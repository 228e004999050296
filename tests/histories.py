"""Fixture histories with every edge case the scraper must get right, built with real git."""

from __future__ import annotations

import os

from tests.gitrepo import GitRepo

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def build_rich_history(make_repo) -> GitRepo:
    """Branches that diverge and merge, an octopus, tags, renames, binaries, odd names,
    non-UTF-8 name and message, an empty commit, a deletion, a submodule, two roots, a
    symlink and a type change, a detached-HEAD commit and remote-tracking branches."""
    lib = make_repo("library")
    lib.write("lib.py", "def helper():\n    return 1\n")
    lib.commit("library: first")

    repo = make_repo("rich")
    repo.write("src/main.rs", "fn main() {\n    println!(\"hi\");\n}\n")
    repo.write("README.md", "# Project\n\nA test project.\n")
    repo.write("docs/old name.txt", "line one\nline two\nline three\nline four\nline five\n")
    repo.commit("feat(core): initial import\n\nSets up the project. Refs #1.\n")

    repo.write("assets/logo.png", PNG_BYTES)
    repo.write("src/lib.rs", "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n")
    repo.commit("Add logo and library", author=("Grace Hopper", "grace@example.com"), offset="-0500")
    repo.tag("v0.1", annotated=True)

    # a feature branch that diverges, then merges back with --no-ff
    repo.git("checkout", "-q", "-b", "feature/parser")
    repo.write("src/parser.rs", "pub fn parse(s: &str) -> usize {\n    s.len()\n}\n")
    repo.commit("feat(parser): add parser\n\nCo-authored-by: Grace Hopper <grace@example.com>\n")
    repo.write("src/parser.rs", "pub fn parse(s: &str) -> usize {\n    s.trim().len()\n}\n")
    repo.commit("fix(parser): trim input (#42)")
    repo.git("checkout", "-q", "main")
    repo.write("README.md", "# Project\n\nA test project.\n\nNow with docs.\n")
    repo.commit("docs: expand readme")
    repo.merge("feature/parser", message="Merge branch 'feature/parser'")

    # rename with edits, a deletion, odd names
    repo.git("mv", "docs/old name.txt", "docs/new \"name\".txt")
    repo.write("docs/new \"name\".txt", "line one\nline two\nline three\nline four\nline 5\n")
    repo.write("weird name with spaces.txt", "spaces\n")
    repo.write("tab\tand\nnewline.txt", "control characters in a path\n")
    repo.write("ünïcödé/naïve.py", "x = 'unicode path'\n")
    repo.write(b"latin1-caf\xe9.txt", b"a name that is not UTF-8\n")
    repo.commit("refactor!: rename docs, add odd names\n\nBREAKING CHANGE: docs moved\n")
    repo.git("rm", "-q", "src/lib.rs")
    repo.commit("Remove lib.rs")
    repo.tag("light-tag")

    # messages: one re-encoded by git (encoding header), one raw latin-1 bytes
    repo.write("notes.txt", "encoding\n")
    repo.git("config", "i18n.commitEncoding", "ISO-8859-1")
    repo.commit("Caf\xe9 cr\xe8me".encode("latin-1") + b"\n")
    repo.git("config", "--unset", "i18n.commitEncoding")
    repo.write("notes.txt", "raw bytes\n")
    repo.commit_raw(b"Raw latin-1 na\xefve message\n")
    repo.commit("An empty commit")

    # binary modification, symlink, then type change of the symlink into a file
    repo.write("assets/logo.png", PNG_BYTES + b"\x00more")
    repo.git("branch", "stale")  # a branch left behind at this point
    os.symlink("README.md", repo.path / "readme-link")
    repo.commit("Update logo, add a symlink")
    (repo.path / "readme-link").unlink()
    repo.write("readme-link", "now a regular file\n")
    repo.commit("Turn the symlink into a file")

    # a submodule
    repo.git("submodule", "add", "-q", str(lib.path), "vendor/library")
    repo.commit("Add library submodule")
    lib.write("lib.py", "def helper():\n    return 2\n")
    lib.commit("library: second")
    repo.git("-C", "vendor/library", "pull", "-q", "origin", "main")
    repo.commit("Bump library submodule")

    # octopus merge of three branches
    for name in ("octo/a", "octo/b", "octo/c"):
        repo.git("checkout", "-q", "-b", name, "main")
        repo.write(f"{name.replace('/', '_')}.txt", f"{name}\n")
        repo.commit(f"chore: {name}")
    repo.git("checkout", "-q", "main")
    repo.merge("octo/a", "octo/b", "octo/c", message="Octopus merge")
    repo.tag("v1.0", annotated=True)
    repo.tag("v1.0-light")

    # a second root commit, merged in with unrelated histories; its branch stays
    repo.git("checkout", "-q", "--orphan", "orphan")
    repo.git("rm", "-rq", "--cached", ".")
    repo.git("clean", "-ffdxq")
    repo.write("orphan.txt", "another root\n")
    repo.commit("Second root")
    repo.git("checkout", "-q", "-f", "main")
    repo.git("submodule", "update", "-q", "--init")
    repo.merge("orphan", message="Merge unrelated history", extra=("--allow-unrelated-histories",))

    # a branch that is not merged, and a commit only reachable from a detached HEAD
    repo.git("checkout", "-q", "-b", "release/1.x", "v0.1")
    repo.write("CHANGELOG.md", "## 1.x\n")
    repo.commit("fix: backport changelog")
    repo.git("checkout", "-q", "--detach", "main")
    repo.write("detached.txt", "only on a detached HEAD\n")
    repo.commit("Detached work")
    return repo


def clone_with_remotes(make_repo, source: GitRepo) -> GitRepo:
    """A clone of `source`: its branches become remote-tracking origin/* branches."""
    clone = make_repo("clone", init=False)
    clone.path.parent.mkdir(parents=True, exist_ok=True)
    GitRepo(clone.path.parent, source.env, init=False).git("clone", "-q", "--no-checkout", str(source.path), clone.path.name)
    clone.git("branch", "-q", "local-only", "origin/feature/parser")
    return clone
