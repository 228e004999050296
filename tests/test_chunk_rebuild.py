"""New file versions rebuilt from the old version and git's patch (BlobStore.put) are the
exact bytes git stores, and every version the patch cannot rebuild exactly (a secret the
scrape redacted, bytes that are not UTF-8) still comes from git: the chunks are those of a
run that reads every blob from git."""

from __future__ import annotations

import msgspec

from gitlm.chunk import chunk_workspace
from gitlm.chunk.blobs import BlobRequest, BlobStore
from gitlm.chunk.diff import apply_patch, parse_patch
from gitlm.chunk.outline import LineIndex
from gitlm.config import GitlmConfig
from gitlm.schema import Chunk, Commit, iter_jsonl
from gitlm.scrape import scrape_to_workspace
from gitlm.scrape.git import open_repository

BODY = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(12))
SECRET = 'API_TOKEN = "ghp_' + "Zq8Rt2Lm5Nx7Vb4Kc9Wd3Hf6Jg1Ps0Ty" + 'Ae"\n'


def _history(make_repo):
    repo = make_repo()
    repo.write("app.py", BODY)
    repo.write("crlf.py", BODY.replace("\n", "\r\n"))
    repo.write("latin.py", b"# caf\xe9\n" + BODY.encode())
    repo.commit("Initial")
    steps = [
        ("app.py", BODY.replace("return 3", "return 33").replace("return 9", "return 99")),  # two hunks
        ("app.py", BODY.replace("return 3", "return 33") + "def tail():\n    return 0"),  # no newline at the end
        ("app.py", BODY.replace("return 3", "return 33") + "def tail():\n    return 1\n"),  # the newline comes back
        ("app.py", BODY[:40] + BODY[200:]),  # a deletion
        ("crlf.py", BODY.replace("\n", "\r\n").replace("return 5", "return 55")),
        ("crlf.py", BODY.replace("return 5", "return 55")),  # CRLF -> LF: every line
        ("latin.py", b"# caf\xe9s\n" + BODY.encode()),  # the patch is decoded with U+FFFD
        ("latin.py", b"# caf\xe9s\n" + BODY.replace("return 7", "return 77").encode()),  # that line is not in this one
        ("app.py", SECRET + BODY),  # the scrape redacts the patch
        ("app.py", SECRET + BODY.replace("return 1\n", "return 11\n")),  # the secret is not in this patch
    ]
    for path, content in steps:
        repo.write(path, content)
        repo.commit(f"Change {path}")
    return repo


def test_patches_rebuild_the_exact_new_version(make_repo, tmp_path):
    repo = _history(make_repo)
    config = GitlmConfig(out=tmp_path / "ws")
    scrape_to_workspace(repo.path, config)
    rebuilt = skipped = 0
    with BlobStore(open_repository(repo.path)) as blobs:
        for commit in iter_jsonl(tmp_path / "ws" / "commits.jsonl", Commit):
            for change in commit.files:
                if change.change_type != "M":
                    continue
                old, new = blobs.get_many([_request(change.old_blob, commit, change.path),
                                           _request(change.new_blob, commit, change.path)])
                lines = LineIndex(old.data)
                data = apply_patch(parse_patch(change.patch), old.data, lines.byte, lines.count)
                exact = data == new.data
                assert blobs.matches(change.new_blob, data) == exact  # the id check tells them apart
                if "<SECRET:" in change.patch or "\ufffd" in change.patch:
                    assert not exact
                    skipped += 1
                else:
                    assert exact, (commit.message_subject, change.path)
                    rebuilt += 1
    assert (rebuilt, skipped) == (8, 2)


def test_chunks_equal_those_of_blobs_read_from_git(make_repo, tmp_path):
    repo = _history(make_repo)
    runs = {}
    for workers in (1, 2):
        config = GitlmConfig(out=tmp_path / f"ws{workers}", chunk={"workers": workers})
        scrape_to_workspace(repo.path, config)
        stats = chunk_workspace(tmp_path / f"ws{workers}", config)
        runs[workers] = [msgspec.json.encode(c) for c in iter_jsonl(tmp_path / f"ws{workers}" / "chunks.jsonl", Chunk)]
        # the initial three versions and the two the patches cannot rebuild come from git
        assert (stats.blobs_rebuilt, stats.blobs_read) == (8, 3 + 2)
    assert runs[1] == runs[2]
    chunks = [msgspec.json.decode(line, type=Chunk) for line in runs[1]]
    latin = [c for c in chunks if c.file_path == "latin.py" and c.commit_meta.subject == "Change latin.py"]
    assert len(latin) == 2 and "caf\ufffds" in latin[0].new_code and "return 77" in latin[1].new_code
    assert all("ghp_" not in (c.new_code or "") + (c.old_code or "") + c.patch for c in chunks)


def _request(oid, commit, path):
    return BlobRequest(oid, commit.hash, path)
