"""Every commit of real fixture repositories, checked against git's own answers."""

from __future__ import annotations

import pytest

from gitlm.config import PrivacyConfig
from gitlm.scrape import ScrapeStats, scrape
from tests.histories import build_rich_history, clone_with_remotes


# Parity is with git's own, unfiltered view: the default path filters would (rightly) drop the
# fixture's vendor/library submodule, and redaction could change patch text. The filters
# themselves are tested in tests/test_privacy_scrape.py.
GIT_VIEW = PrivacyConfig(redact_secrets=False, default_excludes=False, max_file_size=0)


def _git_numstat(repo, commit: str) -> list[tuple[int | None, int | None, str]]:
    """`git log --numstat` for one commit (merges against their first parent)."""
    raw = repo.git_bytes("log", "-1", "--format=", "-z", "--numstat", "-M", "-C", "--root",
                         "--diff-merges=first-parent", commit)
    tokens = raw.lstrip(b"\n").split(b"\0")
    result, i = [], 0
    while i < len(tokens) and tokens[i]:
        added, deleted, path = tokens[i].split(b"\t", 2)
        if not path:
            path, i = tokens[i + 2], i + 3
        else:
            i += 1
        result.append((None if added == b"-" else int(added), None if deleted == b"-" else int(deleted),
                       path.decode("utf-8", "replace")))
    return result


def _git_status_letters(repo, commit: str) -> list[str]:
    raw = repo.git_bytes("log", "-1", "--format=", "-z", "--name-status", "-M", "-C", "--root",
                         "--diff-merges=first-parent", commit)
    tokens = raw.lstrip(b"\n").split(b"\0")
    letters, i = [], 0
    while i < len(tokens) and tokens[i]:
        letter = tokens[i][:1].decode()
        letters.append(letter)
        i += 3 if letter in "RC" else 2
    return letters


def _git_branches_containing(repo, commit: str) -> list[str]:
    out = repo.git("branch", "-a", "--contains", commit, "--format=%(refname)%00%(symref)")
    names = []
    for line in out.splitlines():
        refname, symref = line.split("\0")
        if symref or not refname.startswith("refs/"):  # skip origin/HEAD and "(HEAD detached ...)"
            continue
        names.append(refname.removeprefix("refs/heads/").removeprefix("refs/remotes/"))
    return sorted(names)


@pytest.fixture(scope="module")
def rich_repos(tmp_path_factory):
    from tests.gitrepo import GitRepo, git_test_env

    root = tmp_path_factory.mktemp("parity")
    (root / "home").mkdir()
    env = git_test_env(root / "home")

    def make(name="repo", **kwargs):
        return GitRepo(root / name, env, **kwargs)

    repo = build_rich_history(make)
    return {"rich": repo, "clone": clone_with_remotes(make, repo)}


def assert_matches_git(repo) -> list:
    """Scrape `repo` and check every commit against git's own answers; return the commits."""
    stats = ScrapeStats()
    commits = list(scrape(repo.path, stats=stats, privacy=GIT_VIEW))

    expected = set(repo.git("rev-list", "--all").split())
    hashes = [c.hash for c in commits]
    assert len(hashes) == len(set(hashes)), "a commit appeared twice"
    assert set(hashes) == expected
    assert [c.commit_number for c in commits] == list(range(len(commits)))
    position = {c.hash: c.commit_number for c in commits}
    for commit in commits:
        assert all(position[p] < commit.commit_number for p in commit.parents if p in position), "parent after child"

    for commit in commits:
        numstat = _git_numstat(repo, commit.hash)
        ours = [(None if f.is_binary else f.insertions, None if f.is_binary else f.deletions, f.path) for f in commit.files]
        assert ours == numstat, commit.message_subject
        assert [f.change_type for f in commit.files] == _git_status_letters(repo, commit.hash)
        assert commit.insertions == sum(n[0] or 0 for n in numstat)
        assert commit.deletions == sum(n[1] or 0 for n in numstat)
        assert commit.branches == _git_branches_containing(repo, commit.hash), commit.message_subject
        assert commit.tags == sorted(repo.git("tag", "--points-at", commit.hash).split())
        assert commit.parents == repo.git("log", "-1", "--format=%P", commit.hash).split()
        assert commit.abbrev_hash == repo.git("log", "-1", "--format=%h", commit.hash).strip()
        assert commit.author_timestamp == int(repo.git("log", "-1", "--format=%at", commit.hash))
        assert commit.author_date == repo.git("log", "-1", "--format=%aI", commit.hash).strip()
        assert commit.files_changed == len(commit.files)
        assert commit.total_lines_changed == commit.insertions + commit.deletions
    assert stats.total_commits == len(commits)
    assert stats.patch_misaligned_commits == 0
    return commits


@pytest.mark.parametrize("which", ["rich", "clone"])
def test_every_commit_matches_git(rich_repos, which):
    assert len(assert_matches_git(rich_repos[which])) >= 20


def test_shallow_clone_matches_git(rich_repos, tmp_path):
    from tests.gitrepo import GitRepo

    source = rich_repos["rich"]
    GitRepo(tmp_path, source.env, init=False).git("clone", "-q", "--depth", "3", "--no-single-branch",
                                                   f"file://{source.path}", "shallow")
    commits = assert_matches_git(GitRepo(tmp_path / "shallow", source.env, init=False))
    assert any(not c.parents for c in commits[1:]), "shallow boundaries look like roots"


def test_rich_history_details(rich_repos):
    repo = rich_repos["rich"]
    stats = ScrapeStats()
    by_subject = {c.message_subject: c for c in scrape(repo.path, stats=stats, privacy=GIT_VIEW)}

    initial = by_subject["feat(core): initial import"]
    assert initial.commit_number == 0 and initial.parents == [] and not initial.is_merge
    assert initial.conventional_type == "feat" and initial.conventional_scope == "core"
    assert initial.referenced_issues == [1]
    assert {f.change_type for f in initial.files} == {"A"}, "root commits diff against the empty tree"
    assert initial.files_added == ["README.md", "docs/old name.txt", "src/main.rs"]
    assert initial.diff_summary == "Files changed: 3, Insertions: +11, Deletions: -0"
    assert initial.stats["src/main.rs"].insertions == 3

    logo = by_subject["Add logo and library"]
    png = next(f for f in logo.files if f.path == "assets/logo.png")
    assert png.is_binary and png.insertions == 0 and png.language is None
    assert "Binary files" in png.patch
    assert logo.tags == ["v0.1"] and logo.has_tags
    assert logo.author_email == "grace@example.com" and logo.author_date.endswith("-05:00")

    merge = by_subject["Merge branch 'feature/parser'"]
    assert merge.is_merge and len(merge.parents) == 2
    # against the first parent, the merge brought in the feature's file
    assert [f.path for f in merge.files] == ["src/parser.rs"]
    assert merge.files[0].patch.startswith("diff --git a/src/parser.rs b/src/parser.rs")

    octopus = by_subject["Octopus merge"]
    assert len(octopus.parents) == 4 and octopus.tags == ["v1.0", "v1.0-light"]
    assert stats.octopus_merges == 1

    feature = by_subject["feat(parser): add parser"]
    assert feature.co_authors[0].email == "grace@example.com"
    assert by_subject["fix(parser): trim input (#42)"].referenced_issues == [42]

    renamed = by_subject["refactor!: rename docs, add odd names"]
    assert renamed.is_breaking_change and renamed.conventional_type == "refactor"
    rename = next(f for f in renamed.files if f.change_type == "R")
    assert rename.old_path == "docs/old name.txt" and rename.path == 'docs/new "name".txt'
    assert (rename.insertions, rename.deletions) == (1, 1)
    assert rename.change_frequency == 1, "history follows the rename"
    paths = {f.path for f in renamed.files}
    assert "tab\tand\nnewline.txt" in paths and "ünïcödé/naïve.py" in paths
    assert "latin1-caf\ufffd.txt" in paths, "undecodable path bytes become U+FFFD"
    assert renamed.files_renamed[0].old_path == "docs/old name.txt"

    assert by_subject["Remove lib.rs"].files_deleted == ["src/lib.rs"]
    assert by_subject["Remove lib.rs"].tags == ["light-tag"]
    assert "Café crème" in by_subject, "a message with an encoding header is re-encoded, not mangled"
    assert "Raw latin-1 na\ufffdve message" in by_subject
    assert stats.decode_errors["message"] == 1 and stats.decode_errors["path"] >= 1

    empty = by_subject["An empty commit"]
    assert empty.files == [] and empty.complexity == 0.0

    link = by_subject["Update logo, add a symlink"]
    symlink = next(f for f in link.files if f.path == "readme-link")
    assert symlink.is_symlink and symlink.change_type == "A"
    changed = by_subject["Turn the symlink into a file"].files[0]
    assert changed.change_type == "T" and not changed.is_symlink
    assert changed.patch.count("diff --git") == 2, "a type change keeps both halves of its patch"

    bump = by_subject["Bump library submodule"]
    sub = next(f for f in bump.files if f.path == "vendor/library")
    assert sub.is_submodule and sub.change_type == "M" and "Subproject commit" in sub.patch

    second_root = by_subject["Second root"]
    assert second_root.parents == [] and second_root.branches == ["main", "orphan"]
    assert stats.root_commits == 2

    detached = by_subject["Detached work"]
    assert detached.branches == [], "reachable only from a detached HEAD"
    assert by_subject["fix: backport changelog"].branches == ["release/1.x"]
    assert stats.branches == len(repo.git("for-each-ref", "--format=%(refname)", "refs/heads").split())
    assert stats.tags == 4
