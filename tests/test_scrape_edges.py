"""Repository shapes and options at the edges: empty, single commit, shallow, bare, filters."""

from __future__ import annotations

import pytest

from gitlm.config import PrivacyConfig, ScrapeConfig
from gitlm.errors import BadInputError
from gitlm.schema import encode_commit
from gitlm.scrape import ScrapeStats, parse, scrape
from tests.gitrepo import GitRepo
from tests.histories import build_rich_history


def _subjects(commits):
    return [c.message_subject for c in commits]


def test_empty_repository(make_repo):
    repo = make_repo("empty")
    stats = ScrapeStats()
    assert list(scrape(repo.path, stats=stats)) == []
    assert stats.as_dict()["total_commits"] == 0 and stats.as_dict()["commits_per_day"] == 0.0


def test_single_commit(make_repo):
    repo = make_repo()
    repo.write("a.py", "print('x')\n")
    repo.commit("only")
    [commit] = scrape(repo.path)
    assert commit.commit_number == 0 and commit.parents == [] and commit.branches == ["main"]
    assert commit.files[0].language == "python" and commit.files[0].change_frequency == 0
    assert commit.files[0].patch.endswith("+print('x')\n")


def test_not_a_repository(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(BadInputError, match="is not a git repository"):
        list(scrape(tmp_path / "plain"))
    with pytest.raises(BadInputError, match="does not exist"):
        list(scrape(tmp_path / "missing"))


def test_subdirectory_and_bare_clone(make_repo, tmp_path):
    repo = make_repo()
    repo.write("pkg/mod.py", "x = 1\n")
    first = repo.commit("one")
    assert [c.hash for c in scrape(repo.path / "pkg")] == [first]
    GitRepo(tmp_path, repo.env, init=False).git("clone", "-q", "--bare", str(repo.path), "bare.git")
    [commit] = scrape(tmp_path / "bare.git")
    assert commit.hash == first and commit.branches == ["main"]


def test_shallow_clone(make_repo, tmp_path):
    repo = make_repo()
    for i in range(4):
        repo.write("f.txt", f"{i}\n")
        repo.commit(f"c{i}")
    GitRepo(tmp_path, repo.env, init=False).git("clone", "-q", "--depth", "2", f"file://{repo.path}", "shallow")
    stats = ScrapeStats()
    commits = list(scrape(tmp_path / "shallow", stats=stats))
    assert _subjects(commits) == ["c2", "c3"]
    assert commits[0].parents == [] and stats.shallow_boundary_commits == 1
    assert commits[0].files[0].change_type == "A", "a shallow boundary diffs against the empty tree"


def test_detached_head_only(make_repo):
    repo = make_repo()
    repo.write("a", "1\n")
    repo.commit("on main")
    repo.git("checkout", "-q", "--detach")
    repo.write("a", "2\n")
    repo.commit("detached")
    repo.git("branch", "-q", "-D", "main")
    commits = list(scrape(repo.path))
    assert _subjects(commits) == ["on main", "detached"]
    assert all(c.branches == [] for c in commits)


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    from tests.gitrepo import git_test_env

    root = tmp_path_factory.mktemp("edges")
    (root / "home").mkdir()
    env = git_test_env(root / "home")
    return build_rich_history(lambda name="repo", **kw: GitRepo(root / name, env, **kw))


def test_two_runs_are_byte_identical(rich):
    first = b"\n".join(encode_commit(c) for c in scrape(rich.path))
    second = b"\n".join(encode_commit(c) for c in scrape(rich.path))
    assert first == second and len(first) > 1000


def test_tiny_reads_parse_the_same(rich, monkeypatch):
    """Every record and section boundary falls across a read at some point."""
    normal = [encode_commit(c) for c in scrape(rich.path, ScrapeConfig(max_patch_bytes=40))]
    monkeypatch.setattr(parse, "_READ_SIZE", 7)
    tiny = [encode_commit(c) for c in scrape(rich.path, ScrapeConfig(max_patch_bytes=40))]
    assert tiny == normal


def test_branch_filter(rich):
    commits = list(scrape(rich.path, ScrapeConfig(branches=["release/*"])))
    assert _subjects(commits) == ["feat(core): initial import", "Add logo and library", "fix: backport changelog"]
    assert all(c.branches == ["release/1.x"] for c in commits)
    with pytest.raises(BadInputError, match="no branch matches"):
        list(scrape(rich.path, ScrapeConfig(branches=["nope*"])))


def test_since_until_keep_global_commit_numbers(rich):
    everything = list(scrape(rich.path))
    middle = everything[5].committer_date
    later = everything[9].committer_date
    window = list(scrape(rich.path, ScrapeConfig(since=middle, until=later)))
    assert window and all(middle <= c.committer_date <= later for c in window)
    numbers = {c.hash: c.commit_number for c in everything}
    assert all(c.commit_number == numbers[c.hash] for c in window)
    assert {c.hash for c in window} == {c.hash for c in everything if middle <= c.committer_date <= later}


def test_no_patches_and_truncation(rich):
    without = list(scrape(rich.path, ScrapeConfig(patches=False)))
    assert all(f.patch is None for c in without for f in c.files)
    stats = ScrapeStats()
    cut = list(scrape(rich.path, ScrapeConfig(max_patch_bytes=60), stats=stats))
    truncated = [f for c in cut for f in c.files if f.patch_truncated]
    assert truncated and stats.truncated_patches == len(truncated)
    for f in truncated:  # cut at a line end, unless the first line alone is too long
        assert len(f.patch.encode()) <= 60 and (f.patch.endswith("\n") or "\n" not in f.patch)
    # the counts never depend on the patch
    assert [(f.insertions, f.deletions) for c in cut for f in c.files] == \
           [(f.insertions, f.deletions) for c in without for f in c.files]


def test_huge_file_is_cut_not_held(make_repo):
    repo = make_repo()
    repo.write("big.txt", "".join(f"line {i}\n" for i in range(200_000)))
    repo.write("small.txt", "small\n")
    repo.commit("add a big file")
    # 2.3 MB is over privacy.max_file_size (1 MiB), which would leave big.txt out: lift it
    # here to test that the patch itself is cut while it is read
    [commit] = scrape(repo.path, ScrapeConfig(max_patch_bytes=1000), privacy=PrivacyConfig(max_file_size=0))
    big, small = commit.files
    assert big.insertions == 200_000 and big.patch_truncated and len(big.patch) <= 1000
    assert small.patch.endswith("+small\n") and not small.patch_truncated


def test_history_counters_follow_authors(make_repo):
    repo = make_repo()
    ada, bob = ("Ada", "ada@example.com"), ("Bob", "bob@example.com")
    for i, who in enumerate([ada, ada, bob, ada]):
        repo.write("shared.rs", f"// {i}\n")
        repo.commit(f"edit {i}", author=who)
    commits = list(scrape(repo.path))
    assert [c.files[0].change_frequency for c in commits] == [0, 1, 2, 3]
    assert [c.files[0].author_ownership for c in commits] == [0.0, 1.0, 0.0, round(2 / 3, 4)]
