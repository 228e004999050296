"""The chunker's deliberate handling of everything that is not a plain code edit: binary
files, whole-file deletions, renames, files that do not parse, merges, odd paths, records
without blob ids, truncated patches, secrets, large units, long lines, plain text; the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from gitlm.chunk import chunk_workspace
from gitlm.chunk.cochange import CoChangeTracker
from gitlm.chunk.rules import change_type, message_intent
from gitlm.config import GitlmConfig
from gitlm.schema import Chunk, Commit, encode_record, iter_jsonl
from gitlm.scrape import scrape_to_workspace
from tests.histories import PNG_BYTES

FUNCTIONS = "def one():\n    return 1\n\n\ndef two():\n    return 2\n"


def _chunk(repo, tmp_path, name="ws", scrape=None, privacy=None, **chunk):
    config = GitlmConfig(out=tmp_path / name, chunk={"min_chunk_tokens": 0, **chunk},
                         scrape=scrape or {}, privacy=privacy or {})
    scrape_to_workspace(repo.path, config)
    stats = chunk_workspace(tmp_path / name, config)
    return list(iter_jsonl(tmp_path / name / "chunks.jsonl", Chunk)), stats


def _summary(chunk: Chunk) -> tuple:
    return (chunk.file_path, chunk.change_category, chunk.change_type, chunk.unit_kind, chunk.function_name,
            chunk.line_range, chunk.additions, chunk.deletions)


def test_binary_deletion_and_renames(make_repo, tmp_path):
    repo = make_repo()
    repo.write("app/old.py", FUNCTIONS)
    repo.write("app/keep.py", FUNCTIONS)
    repo.write("logo.png", PNG_BYTES)
    first = repo.commit("Initial")
    repo.git("rm", "-q", "app/old.py")
    repo.write("logo.png", PNG_BYTES + b"\x00more")
    deleted = repo.commit("Remove old module")
    repo.git("mv", "app/keep.py", "app/moved.py")
    moved = repo.commit("Move keep to moved")
    repo.git("mv", "app/moved.py", "app/final.py")
    repo.write("app/final.py", FUNCTIONS.replace("return 2", "return 22"))
    edited = repo.commit("Move and change")
    chunks, stats = _chunk(repo, tmp_path)
    # the scrape records each side's blob id (abbreviated as --raw prints it), None for a side that does not exist
    records = {c.hash: c for c in iter_jsonl(tmp_path / "ws" / "commits.jsonl", Commit)}
    added = next(f for f in records[first].files if f.path == "app/old.py")
    removed = next(f for f in records[deleted].files if f.path == "app/old.py")
    full = repo.git("rev-parse", f"{first}:app/old.py").strip()
    assert added.old_blob is None and len(added.new_blob) >= 7 and full.startswith(added.new_blob)
    assert removed.new_blob is None and removed.old_blob == added.new_blob
    by_commit = {sha: [c for c in chunks if c.commit_hash == sha] for sha in (first, deleted, moved, edited)}
    assert [c.file_path for c in by_commit[first]] == ["app/keep.py", "app/keep.py", "app/old.py", "app/old.py"]
    # a whole-file deletion: one chunk that records it, without the code
    (gone,) = by_commit[deleted]
    assert _summary(gone) == ("app/old.py", "D", "deleted_function", "file", None, None, 0, 6)
    assert gone.old_code is None and gone.new_code is None
    assert gone.patch.startswith("diff --git a/app/old.py b/app/old.py\ndeleted file mode 100644\n")
    assert "@@" not in gone.patch
    # a pure rename: one refactor chunk naming both paths
    (move,) = by_commit[moved]
    assert _summary(move) == ("app/moved.py", "R", "refactor", "file", None, None, 0, 0)
    assert move.old_path == "app/keep.py" and "rename from app/keep.py" in move.patch
    # a rename with an edit: the unit before comes from the old path
    (two,) = by_commit[edited]
    assert _summary(two) == ("app/final.py", "R", "modified_function", "function", "two", [5, 6], 1, 1)
    assert two.old_path == "app/moved.py"
    assert two.old_code == "def two():\n    return 2\n" and two.new_code == "def two():\n    return 22\n"
    assert stats.skipped == {"binary": 2}
    assert stats.whole_file_deletions == 1 and stats.pure_renames == 1


def test_unparsable_file_falls_back_to_hunks(make_repo, tmp_path):
    repo = make_repo()
    repo.write("broken.py", "def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    repo.commit("Add")
    repo.write("broken.py", "def ok():\n    return 2\n\ndef broken(:\n    pass\n")
    sha = repo.commit("Change")
    chunks, stats = _chunk(repo, tmp_path)
    (chunk,) = [c for c in chunks if c.commit_hash == sha]
    assert _summary(chunk) == ("broken.py", "M", "other", "hunk", None, [1, 5], 1, 1)
    assert chunk.old_code == "def ok():\n    return 1\n\ndef broken(:\n    pass\n"
    assert chunk.new_code == "def ok():\n    return 2\n\ndef broken(:\n    pass\n"
    assert stats.parse_fallbacks == 2  # the addition and the change
    assert stats.parse_fallbacks_by_language == {"python": 2}
    assert stats.parse_fallback_example.startswith("broken.py at ") and stats.parse_fallback_example.endswith("line 4")


def test_merges_are_skipped_unless_asked(make_repo, tmp_path):
    repo = make_repo()
    repo.write("a.py", FUNCTIONS)
    repo.commit("Initial")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("a.py", FUNCTIONS.replace("return 1", "return 11"))
    topic = repo.commit("Topic change")
    repo.git("checkout", "-q", "main")
    merge = repo.merge("topic", message="Merge topic")
    chunks, stats = _chunk(repo, tmp_path)
    assert [c.commit_hash for c in chunks if c.function_name == "one"] == [chunks[0].commit_hash, topic]
    assert stats.merges_skipped == 1
    chunks, stats = _chunk(repo, tmp_path, name="ws2", merges=True)
    assert [c.commit_hash for c in chunks if c.function_name == "one"][-1] == merge
    assert stats.merges_skipped == 0


def test_odd_paths_and_records_without_blob_ids(make_repo, tmp_path):
    repo = make_repo()
    names = ["src/odd name.py", "src/new\nline.py", "src/ünï.py"]
    for name in names:
        repo.write(name, FUNCTIONS)
    repo.commit("Initial")
    for name in names:
        repo.write(name, FUNCTIONS.replace("return 2", "return 3"))
    repo.commit("Change all")
    chunks, _ = _chunk(repo, tmp_path)
    expected = [(name, "M", "modified_function", "function", "two", [5, 6], 1, 1) for name in sorted(names)]
    assert sorted(_summary(c) for c in chunks if c.change_category == "M") == sorted(expected)
    # an older scrape without blob ids: blobs are read as <commit>:<path>, with -z
    ws = tmp_path / "ws"
    commits = list(iter_jsonl(ws / "commits.jsonl", Commit))
    for commit in commits:
        for change in commit.files:
            change.old_blob = change.new_blob = None
    (ws / "commits.jsonl").write_bytes(b"".join(encode_record(c) + b"\n" for c in commits))
    stats = chunk_workspace(ws, GitlmConfig(chunk={"min_chunk_tokens": 0}))
    again = list(iter_jsonl(ws / "chunks.jsonl", Chunk))
    assert [msgspec.to_builtins(c) for c in again] == [msgspec.to_builtins(c) for c in chunks]
    assert stats.blobs_read == 9


@pytest.mark.parametrize("prefix", ["", "# section\x0c break and a lone\r return\n\n\n"], ids=["plain", "odd-separators"])
def test_truncated_patches_are_recomputed_from_the_blobs(make_repo, tmp_path, prefix):
    """A patch the scrape cut is recomputed from the blobs, with the same chunks. A form
    feed or a lone carriage return inside a line (str.splitlines would break there) does
    not shift the recomputed diff's lines against the file's."""
    repo = make_repo()
    body = "".join(f"    x{i} = {i}\n" for i in range(40))
    repo.write("big.py", f"{prefix}def first():\n{body}    return 0\n\n\ndef second():\n    return 2\n")
    repo.commit("Initial")
    repo.write("big.py", f"{prefix}def first():\n{body.replace('x5 = 5', 'x5 = 55')}    return 0\n\n\ndef second():\n    return 3\n")
    repo.commit("Change both")
    full, _ = _chunk(repo, tmp_path)
    cut, stats = _chunk(repo, tmp_path, name="cut", scrape={"max_patch_bytes": 120})
    assert stats.patches_recomputed == 2
    assert [_summary(c) for c in cut] == [_summary(c) for c in full]
    assert [(c.old_code, c.new_code) for c in cut] == [(c.old_code, c.new_code) for c in full]
    first = 1 + prefix.count("\n")
    assert [_summary(c) for c in full][-2:] == [
        ("big.py", "M", "modified_function", "function", "first", [first, first + 41], 1, 1),
        ("big.py", "M", "modified_function", "function", "second", [first + 44, first + 45], 1, 1),
    ]


@pytest.mark.parametrize("scrape", [{}, {"max_patch_bytes": 2000}], ids=["git-patch", "recomputed"])
def test_a_rewritten_class_is_cut_in_pieces_that_share_its_lines(make_repo, tmp_path, scrape):
    """A line-ending conversion rewrites every line of a class too large for one chunk: one
    block. Its pieces share the block's old lines (every -/+ line in exactly one chunk, each
    side within the budget) instead of each taking the whole block and being cut in windows
    over all of it (hundreds of chunks for a 10 KB file)."""
    methods = "".join(f"    def method_{i}(self, value):\n        total = value * {i}\n        return total + {i}\n\n"
                      for i in range(60))
    text = f"class Big:\n    \"\"\"A class of sixty methods.\"\"\"\n\n{methods}"
    repo = make_repo()
    repo.write("big.py", text.replace("\n", "\r\n"))
    repo.commit("Add with CRLF")
    repo.write("big.py", text)
    converted = repo.commit("CRLF -> LF")
    chunks, stats = _chunk(repo, tmp_path, scrape=scrape, max_chunk_tokens=256)
    pieces = [c for c in chunks if c.commit_hash == converted]
    removed = sorted(line[1:].rstrip("\r") for c in pieces for line in c.patch.splitlines() if line.startswith("-"))
    added = sorted(line[1:] for c in pieces for line in c.patch.split("\n") if line.startswith("+"))
    code = sorted(line for line in text.split("\n") if line.strip())
    assert [r for r in removed if r.strip()] == code and [a for a in added if a.strip()] == code  # each once
    assert all(len(c.new_code or "") <= 256 * 3.5 and len((c.old_code or "").replace("\r", "")) <= 256 * 3.5 for c in pieces)
    assert len(pieces) <= 60 + 3  # a chunk per method, and the class's own lines
    assert stats.patches_recomputed == (2 if scrape else 0)  # both commits' patches were cut


def _repo_with_a_key(make_repo):
    """A function that returns None, then an AWS access key."""
    repo = make_repo()
    repo.write("settings.py", "def keys():\n    return None\n")
    repo.commit("Initial")
    repo.write("settings.py", 'def keys():\n    return "AKIAIOSFODNN7EXAMPLE"\n')
    repo.commit("Add key")
    return repo


def test_secrets_are_redacted_from_code(make_repo, tmp_path):
    repo = _repo_with_a_key(make_repo)
    chunks, stats = _chunk(repo, tmp_path)
    assert chunks[-1].new_code == 'def keys():\n    return "<SECRET:aws_access_key>"\n'
    assert "AKIA" not in chunks[-1].patch
    assert stats.secrets_redacted == 1 and stats.secrets_by_type == {"aws_access_key": 1}
    kept, stats = _chunk(repo, tmp_path, name="kept", privacy={"redact_secrets": False})
    assert "AKIAIOSFODNN7EXAMPLE" in kept[-1].new_code and stats.secrets_redacted == 0


def test_large_units_split_on_statements(make_repo, tmp_path):
    repo = make_repo()
    statements = "".join(f"    value_{i} = compute_something({i}, {i + 1})\n" for i in range(30))
    repo.write("big.py", f"def big():\n{statements}    return value_0\n")
    repo.commit("Initial")
    repo.write("big.py", f"def big():\n{statements.replace('compute_something(3, 4)', 'other(3)')}    return value_0\n")
    sha = repo.commit("Change one statement")
    chunks, stats = _chunk(repo, tmp_path, max_chunk_tokens=64)
    parts = [c for c in chunks if c.commit_hash == sha]
    # the changed statement (line 5) with whole neighbouring statements up to the budget
    assert [_summary(c) for c in parts] == [("big.py", "M", "modified_function", "function", "big", [3, 7], 1, 1)]
    (part,) = parts
    assert part.old_code == "".join(f"    value_{i} = compute_something({i}, {i + 1})\n" for i in range(1, 6))
    assert part.new_code == part.old_code.replace("compute_something(3, 4)", "other(3)")
    assert len(part.new_code) <= 64 * 3.5
    added = [c for c in chunks if c.commit_hash != sha]
    # the added function in parts: its header line, then statements joined up to the budget
    assert [c.line_range for c in added] == [[1, 1], [2, 6], [7, 11], [12, 16], [17, 21], [22, 26], [27, 32]]
    assert all(c.function_name == "big" and c.change_type == "new_function" for c in added)
    assert stats.split_units == 8


VIEW = """\
var CellView = Backbone.View.extend({
    tagName: 'div',

    render: function () {
        this.draw();
        return this;
    },

    update: function (model) {
        this.model = model;
    },
});
"""


def test_functions_in_object_literals_are_methods(make_repo, tmp_path):
    """Pre-class JavaScript keeps its methods in object literals (Backbone's extend, a
    prototype object, module.exports): each function is its own unit, named in its object."""
    repo = make_repo()
    repo.write("static/view.js", VIEW)
    repo.commit("Add the cell view")
    repo.write("static/view.js", VIEW.replace("        this.draw();\n", "        this.draw(true);\n"))
    changed = repo.commit("Draw eagerly")
    utils = "module.exports = {\n    add: function (a, b) {\n        return a + b;\n    },\n\n    one() {\n        return 1;\n    },\n};\n"
    repo.write("lib/utils.js", utils)
    repo.commit("Add utils")
    repo.write("lib/utils.js", utils.replace("return 1;", "return 2;"))
    fixed = repo.commit("Fix one")
    chunks, _ = _chunk(repo, tmp_path)
    by_commit = {sha: [_summary(c) for c in chunks if c.commit_hash == sha] for sha in (changed, fixed)}
    assert by_commit[changed] == [("static/view.js", "M", "modified_function", "method", "CellView.render", [4, 7], 1, 1)]
    (render,) = [c for c in chunks if c.commit_hash == changed]
    assert render.old_code == "    render: function () {\n        this.draw();\n        return this;\n    },\n"
    assert render.new_code == render.old_code.replace("draw()", "draw(true)")
    assert by_commit[fixed] == [("lib/utils.js", "M", "bug_fix", "function", "module.exports.one", [6, 8], 1, 1)]


def test_plain_text_chunks_by_hunk_and_long_lines_are_cut(make_repo, tmp_path):
    repo = make_repo()
    lines = [f"line {i}\n" for i in range(30)]
    repo.write("notes.txt", "".join(lines))
    repo.write("data.svg", "<svg>" + "x" * 5000 + "</svg>\n")
    repo.commit("Initial")
    lines[2] = "line two\n"
    lines[25] = "line twenty-five\n"
    repo.write("notes.txt", "".join(lines))
    repo.write("data.svg", "<svg>" + "y" * 5000 + "</svg>\n")
    sha = repo.commit("Edit notes")
    chunks, stats = _chunk(repo, tmp_path)
    edits = [c for c in chunks if c.commit_hash == sha]
    assert [_summary(c) for c in edits] == [
        ("data.svg", "M", "other", "hunk", None, [1, 1], 1, 1),
        ("notes.txt", "M", "documentation", "hunk", None, [1, 6], 1, 1),
        ("notes.txt", "M", "documentation", "hunk", None, [23, 29], 1, 1),
    ]
    assert edits[1].old_code == "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\n"
    assert edits[1].new_code == "line 0\nline 1\nline two\nline 3\nline 4\nline 5\n"
    assert edits[0].old_code == "<svg>" + "x" * 1738 + " [... 3268 characters cut]\n"
    assert edits[0].new_code == "<svg>" + "y" * 1738 + " [... 3268 characters cut]\n"
    assert stats.long_lines_cut == 3  # the svg line added, then its - and + lines


def test_cochange_tracker_is_bounded():
    tracker = CoChangeTracker(partners=2, max_files=10, max_commit_files=3)
    for _ in range(3):
        tracker.record(["a", "b"])
    tracker.record(["a", "c"])
    tracker.record(["a", "d"])  # a keeps 2 partners: d replaces the weakest (c) and inherits its count + 1
    assert tracker.related("a", 5) == ["b", "d"]
    assert tracker.related("a", 5, minimum=3) == ["b"]
    tracker.record(["a", "b", "c", "d"])  # too many files to say anything: not counted
    assert tracker.related("b", 5) == ["a"]
    tracker.record(["b"], renames=[("b", "b2")])  # the history follows the rename
    assert tracker.related("b2", 5) == ["a"]
    assert tracker.related("a", 5) == ["d"]  # the old name is gone
    tracker.record(["e"], deleted=["d"])
    assert tracker.related("a", 5, minimum=1) == []
    small = CoChangeTracker(max_files=2)
    small.record(["x", "y"])
    small.record(["z", "y"])  # x, the least recently changed, is forgotten
    assert sorted(small._counts) == ["y", "z"] and small.related("y", 5, minimum=1) == ["z"]


def test_change_type_rules():
    base = dict(kind="function", status="modified", test=False, path="src/app.py", language="python", section=None,
                members=[], removed=["    x = 1"], added=["    x = 2"], subject="Tune x", conventional_type=None, family="code")
    assert change_type(**base) == "modified_function"
    assert change_type(**{**base, "subject": "Fix off-by-one in x"}) == "bug_fix"
    assert change_type(**{**base, "conventional_type": "perf"}) == "optimization"
    assert change_type(**{**base, "subject": "Speed up the loop"}) == "optimization"
    assert change_type(**{**base, "subject": "Refactor x handling"}) == "refactor"
    assert change_type(**{**base, "removed": ["    # old note"], "added": ["    # new note"]}) == "documentation"
    assert change_type(**{**base, "removed": ["x=1"], "added": ["x = 1"]}) == "refactor"
    assert change_type(**{**base, "kind": "type"}) == "other"
    assert change_type(**{**base, "status": "added", "kind": "interface"}) == "new_interface"
    assert change_type(**{**base, "status": "added", "kind": "impl"}) == "new_impl"
    assert change_type(**{**base, "status": "deleted", "kind": "type"}) == "refactor"
    assert change_type(**{**base, "path": "tests/test_app.py"}) == "modified_test"
    assert change_type(**{**base, "path": "docs/conf.py"}) == "documentation"
    config = {**base, "kind": "section", "family": "config", "language": "json"}
    assert change_type(**{**config, "path": "package.json", "section": "devDependencies"}) == "dependency_update"
    assert change_type(**{**config, "path": "package.json", "section": "scripts"}) == "configuration"
    toml = {**config, "language": "toml", "path": "pyproject.toml"}
    assert change_type(**{**toml, "section": "project", "members": ["dependencies"]}) == "dependency_update"
    assert change_type(**{**toml, "section": "project", "members": ["version"]}) == "configuration"
    assert change_type(**{**base, "path": "requirements-dev.txt", "language": "text", "kind": "hunk", "family": None}) == "dependency_update"
    assert change_type(**{**base, "path": "CHANGES", "language": None, "kind": "hunk", "family": None}) == "documentation"
    assert change_type(**{**base, "path": "app/security.py"}) == "modified_function"
    assert message_intent("Prefix the names", None) is None  # "fix" inside a word is no fix


def test_cli_chunk(make_repo, tmp_path):
    repo = make_repo()
    repo.write("a.py", FUNCTIONS)
    repo.commit("Initial")
    repo.write("a.py", FUNCTIONS.replace("return 1", "return 0"))
    repo.commit("fix: one returns zero")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def gitlm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, env=env, cwd=tmp_path)

    assert gitlm("scrape", str(repo.path), "--out", str(tmp_path / "ws")).returncode == 0
    proc = gitlm("chunk", "--workspace", str(tmp_path / "ws"), "--stats")
    assert proc.returncode == 0, proc.stderr
    assert "chunked 2 commits into 2 chunks" in proc.stdout and "bug_fix" in proc.stdout
    proc = gitlm("chunk", "--workspace", str(tmp_path / "ws"), "--json", "--min-chunk-tokens", "0")
    figures = json.loads(proc.stdout)
    assert figures["chunks"] == 3 and figures["chunks_per_change_type"] == {"new_function": 2, "bug_fix": 1}
    proc = gitlm("chunk", "--workspace", str(tmp_path / "missing"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: workspace") and "Traceback" not in proc.stderr
    proc = gitlm("chunk", "--workspace", str(tmp_path / "ws"), "--max-chunk-tokens", "32", "--min-chunk-tokens", "64")
    assert proc.returncode == 2 and "min_chunk_tokens (64) must not exceed max_chunk_tokens (32)" in proc.stderr
    (tmp_path / "ws" / "commits.jsonl").unlink()
    proc = gitlm("chunk", "--workspace", str(tmp_path / "ws"))
    assert proc.returncode == 2 and "commits.jsonl does not exist" in proc.stderr


PRIVATE_KEY_LINES = ["MIIEowIBAAKCAQEAr9f2Xw3hQ7pKm1sT8vZ5nYb0LcRd4eGhJkUiOpQwErTyUiOp",
                     "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd9Ss8Aa7Qq6Ww5Ee4Rr3Tt2Yy1Uu0Ii9Oo8P", "q7Jm2Lp9Xk3Vb8Nc4Hd5Fg6=="]


def test_private_key_in_a_string_keeps_the_patch_lines(make_repo, tmp_path):
    """A key block that starts mid-line (`KEY = '''-----BEGIN ...`): the scrape's redaction
    keeps every patch line's +/- mark, so the patch stays consistent and is not recomputed."""
    repo = make_repo()
    repo.write("keys.py", "def key():\n    return None\n")
    repo.commit("Initial")
    body = "\n".join(PRIVATE_KEY_LINES)
    repo.write("keys.py", f"def key():\n    return '''-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----'''\n")
    sha = repo.commit("Add key")
    chunks, stats = _chunk(repo, tmp_path)
    (chunk,) = [c for c in chunks if c.commit_hash == sha]
    assert stats.patches_recomputed == 0
    assert _summary(chunk) == ("keys.py", "M", "modified_function", "function", "key", [1, 6], 5, 1)
    assert chunk.patch.splitlines()[1:] == [" def key():", "-    return None", "+    return '''-----BEGIN RSA PRIVATE KEY-----"] + [
        "+<SECRET:private_key>"] * 3 + ["+-----END RSA PRIVATE KEY-----'''"]
    assert "MIIE" not in chunk.new_code and chunk.new_code.count("<SECRET:private_key>") == 3


def test_patches_the_scrape_kept_secrets_in_are_redacted(make_repo, tmp_path):
    repo = _repo_with_a_key(make_repo)
    config = GitlmConfig(out=tmp_path / "ws", privacy={"redact_secrets": False}, chunk={"min_chunk_tokens": 0})
    scrape_to_workspace(repo.path, config)
    assert "AKIAIOSFODNN7EXAMPLE" in (tmp_path / "ws" / "commits.jsonl").read_text()
    for workers in (1, 2):  # the scrape did not redact: the chunker redacts what it takes from the patches too
        stats = chunk_workspace(tmp_path / "ws", GitlmConfig(chunk={"min_chunk_tokens": 0, "workers": workers}))
        last = list(iter_jsonl(tmp_path / "ws" / "chunks.jsonl", Chunk))[-1]
        assert "AKIA" not in last.patch and "AKIA" not in last.new_code
        assert stats.secrets_redacted == 2  # once in the code, once in the patch


def test_versions_written_by_skipped_merges_are_derived_not_parsed(make_repo, tmp_path):
    """Both sides of a merge change a file: the merged version is new to the chunker. The next
    change reads its outline derived from the first parent's by the merge's patch."""
    functions = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(6))
    repo = make_repo()
    repo.write("a.py", functions)
    repo.commit("Initial")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("a.py", functions.replace("return 1\n", "return 11\n"))
    repo.commit("Topic change")
    repo.git("checkout", "-q", "main")
    repo.write("a.py", functions.replace("return 4\n", "return 44\n"))
    repo.commit("Main change")
    repo.merge("topic", message="Merge topic")
    merged = functions.replace("return 1\n", "return 11\n").replace("return 4\n", "return 44\n")
    repo.write("a.py", merged.replace("return 2\n", "return 22\n"))
    after = repo.commit("After the merge")
    for workers in (1, 2):
        chunks, stats = _chunk(repo, tmp_path, name=f"ws{workers}", workers=workers)
        (chunk,) = [c for c in chunks if c.commit_hash == after]
        assert _summary(chunk) == ("a.py", "M", "modified_function", "function", "f2", [9, 10], 1, 1)
        assert chunk.old_code == "def f2():\n    return 2\n"
        assert stats.full_parses == 1  # the initial version only
        assert stats.incremental_parses == 4  # two branch changes; the merged version; the last one
        assert stats.merges_skipped == 1


def test_versions_written_by_merges_in_a_row_are_derived_not_parsed(make_repo, tmp_path):
    """A main branch made of merges (a pull-request workflow): the version the second merge
    wrote comes from one the first merge wrote, which the chunker never saw either. It is
    rebuilt from the first merge's recipe, so the next change still derives its outline."""
    functions = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(6))
    repo = make_repo()
    repo.write("a.py", functions)
    repo.commit("Initial")
    for branch, number in (("one", 1), ("three", 3)):
        repo.git("checkout", "-q", "-b", branch, "main")
        repo.write("a.py", functions.replace(f"return {number}\n", f"return {number}{number}\n"))
        repo.commit(f"Change f{number}")
    repo.git("checkout", "-q", "main")
    repo.write("a.py", functions.replace("return 5\n", "return 55\n"))
    repo.commit("Main change")
    repo.merge("one", message="Merge one")
    repo.merge("three", message="Merge three")
    merged = functions.replace("return 1\n", "return 11\n").replace("return 3\n", "return 33\n").replace("return 5\n", "return 55\n")
    assert repo.path.joinpath("a.py").read_text() == merged
    repo.write("a.py", merged.replace("return 2\n", "return 22\n"))
    after = repo.commit("After the merges")
    for workers in (1, 2):
        chunks, stats = _chunk(repo, tmp_path, name=f"ws{workers}", workers=workers)
        (chunk,) = [c for c in chunks if c.commit_hash == after]
        assert _summary(chunk) == ("a.py", "M", "modified_function", "function", "f2", [9, 10], 1, 1)
        assert stats.full_parses == 1  # the initial version only
        # three branch changes; the first merge's version, rebuilt; the second's; the last change
        assert stats.incremental_parses == 6
        assert stats.merges_skipped == 2


def test_outlines_outlive_their_blobs_in_the_cache(make_repo):
    """A version pushed out of the blob cache is read from git again when the file next
    changes, with the outline it had (no second full parse); an outline larger than the
    outline budget is not kept."""
    from gitlm.chunk.blobs import BlobRequest, BlobStore
    from gitlm.scrape.git import open_repository

    repo = make_repo()
    repo.write("a.py", "def f():\n    return 1\n")
    repo.write("big.py", "x = 1\n" * 100_000)  # 600 KB: twice that is over a 1 MB cache
    first = repo.commit("Add")
    with BlobStore(open_repository(repo.path), cache_bytes=1 << 20) as store:
        small_id = repo.git("rev-parse", f"{first}:a.py").strip()
        big_id = repo.git("rev-parse", f"{first}:big.py").strip()
        (small,) = store.get_many([BlobRequest(small_id, first, "a.py")])
        small.outline = ("python", "an outline")
        (big,) = store.get_many([BlobRequest(big_id, first, "big.py")])
        big.outline = ("python", "too large to keep")
        assert store.cached(small_id) is None  # pushed out by big.py
        (again,) = store.get_many([BlobRequest(small_id, first, "a.py")])  # pushes big.py out
        assert again is not small and again.outline == ("python", "an outline")
        (big_again,) = store.get_many([BlobRequest(big_id, first, "big.py")])
        assert big_again.outline is None
        assert store.reads == 4


def test_a_file_that_does_not_parse_is_not_parsed_in_full_at_every_change(make_repo, tmp_path):
    """Versions after one that does not parse come from tree-sitter's incremental parse of its
    tree; once the file parses again it is chunked by unit."""
    repo = make_repo()
    broken = "def ok():\n    return 1\n\ndef broken(:\n    pass\n\ndef other():\n    return 2\n"
    repo.write("old.py", broken)
    repo.commit("Add")
    repo.write("old.py", broken.replace("return 1", "return 10"))
    repo.commit("Change 1")
    repo.write("old.py", broken.replace("return 1", "return 100"))
    repo.commit("Change 2")
    fixed = broken.replace("return 1", "return 100").replace("broken(:", "broken():")
    repo.write("old.py", fixed)
    repo.commit("Port")
    repo.write("old.py", fixed.replace("return 2", "return 3"))
    last = repo.commit("Change 3")
    for workers in (1, 2):
        chunks, stats = _chunk(repo, tmp_path, name=f"ws{workers}", workers=workers)
        assert stats.parse_fallbacks == 4  # the addition, two changes and the port: by hunk
        assert stats.full_parses == 1 and stats.tree_reparses == 3
        (chunk,) = [c for c in chunks if c.commit_hash == last]
        assert _summary(chunk) == ("old.py", "M", "modified_function", "function", "other", [7, 8], 1, 1)


def test_router_keeps_paths_and_balances_new_ones():
    from gitlm.chunk.parallel import Router
    from gitlm.schema import FileChange

    def change(path, patch="x" * 100, old_path=None):
        return FileChange(path=path, old_path=old_path, change_type="R" if old_path else "M", similarity=None,
                          insertions=1, deletions=0, is_binary=False, is_submodule=False, is_symlink=False,
                          language="python", patch=patch, patch_truncated=False, change_frequency=0, author_ownership=0.0)

    router = Router(2, capacity=3)
    heavy = router.route(change("heavy.py", "x" * 100_000))
    assert [router.route(change(f"f{i}.py")) for i in range(3)] == [1 - heavy] * 3  # the least loaded worker
    assert router.route(change("moved.py", old_path="f2.py")) == 1 - heavy  # a rename stays with its worker
    assert router.route(change("f2.py")) == router.route(change("f2.py"))  # sticky
    assert len(router._owners) == 3  # the least recently changed paths are forgotten

    # measured CPU corrects the estimates: equal estimated work (two changes each), but
    # worker 0 took three times as long (three changes' worth of CPU against one),
    # so the next two new paths go to worker 1, which then has done as much
    router = Router(2)
    for i in range(4):
        router.route(change(f"w{i}.py"))
    assert router.load[0] == router.load[1]
    router.measured(list(router.load), [3.0, 1.0])
    assert [router.route(change(f"new{i}.py")) for i in range(2)] == [1, 1]
    assert {router.route(change("tie.py")), router.route(change("next.py"))} == {0, 1}
