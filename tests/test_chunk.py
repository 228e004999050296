"""The chunker on a Rust + Python + TypeScript project (tests/chunk_histories.py): exact unit
boundaries, names, module paths, change types and old/new code for every kind of commit."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from gitlm.chunk import chunk_commits, chunk_workspace
from gitlm.config import GitlmConfig
from gitlm.schema import Chunk, Commit, encode_record, iter_jsonl
from gitlm.scrape import scrape_to_workspace
from tests.chunk_histories import PYTHON, RUST, TS, build_project


def _run(make_repo, tmp_path, **chunk):
    repo, commits = build_project(make_repo)
    config = GitlmConfig(out=tmp_path / "ws", chunk=chunk)
    scrape_to_workspace(repo.path, config)
    stats = chunk_workspace(tmp_path / "ws", config)
    names = {sha: name for name, sha in commits.items()}
    by_commit: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in iter_jsonl(tmp_path / "ws" / "chunks.jsonl", Chunk):
        by_commit[names[chunk.commit_hash]].append(chunk)
    return by_commit, stats, commits


@pytest.fixture
def project(make_repo, tmp_path):
    """Every chunk of the project, min_chunk_tokens=0 so each unit is its own chunk."""
    return _run(make_repo, tmp_path, min_chunk_tokens=0)


def _summary(chunk: Chunk) -> tuple:
    return (chunk.file_path, chunk.change_category, chunk.change_type, chunk.unit_kind, chunk.function_name,
            chunk.module_path, chunk.line_range, chunk.additions, chunk.deletions)


def test_added_functions(project):
    chunks, _, commits = project
    assert [_summary(c) for c in chunks["add"]] == [
        (PYTHON, "M", "new_function", "function", "refund", "pkg.billing", [5, 6], 2, 0),
        (RUST, "M", "new_function", "function", "close", "energy_market::disputes", [9, 11], 3, 0),
        (TS, "M", "new_function", "function", "sum", "web/src/cart", [5, 7], 3, 0),
    ]
    refund, close, total = chunks["add"]
    assert refund.old_code is None and refund.new_code == "def refund(items, share):\n    return total(items) * share\n"
    assert close.new_code == "pub fn close(dispute: Dispute) -> u32 {\n    dispute.id\n}\n"
    assert close.patch == "@@ -7,0 +9,3 @@ pub struct Dispute {\n+pub fn close(dispute: Dispute) -> u32 {\n+    dispute.id\n+}\n"
    assert total.new_code == "export function sum(items: number[]): number {\n  return items.reduce((a, b) => a + b, 0);\n}\n"
    assert [c.chunk_id for c in chunks["add"]] == [f"{commits['add']}_{i}" for i in range(3)]


def test_modified_functions_carry_the_whole_unit_before_and_after(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["modify"]] == [
        (PYTHON, "M", "modified_function", "function", "total", "pkg.billing", [1, 2], 1, 1),
        (RUST, "M", "modified_function", "function", "open", "energy_market::disputes", [5, 7], 1, 1),
        (TS, "M", "modified_function", "function", "count", "web/src/cart", [1, 3], 1, 1),
    ]
    total, open_, count = chunks["modify"]
    assert total.old_code == "def total(items):\n    return sum(items)\n"
    assert total.new_code == "def total(items):\n    return sum(item for item in items)\n"
    assert open_.old_code == "pub fn open(id: u32) -> Dispute {\n    Dispute { id }\n}\n"
    assert open_.new_code == "pub fn open(id: u32) -> Dispute {\n    Dispute { id: id + 1 }\n}\n"
    assert open_.patch == ("@@ -5,3 +5,3 @@ pub struct Dispute {\n pub fn open(id: u32) -> Dispute {\n"
                           "-    Dispute { id }\n+    Dispute { id: id + 1 }\n }\n")
    assert count.old_code == "export function count(items: number[]): number {\n  return items.length;\n}\n"
    assert count.new_code == ("export function count(items: number[]): number {\n"
                              "  return items.filter((item) => item > 0).length;\n}\n")


def test_deleted_functions(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["delete"]] == [
        (PYTHON, "M", "deleted_function", "function", "refund", "pkg.billing", [5, 6], 0, 2),
        (RUST, "M", "deleted_function", "function", "close", "energy_market::disputes", [9, 11], 0, 3),
        (TS, "M", "deleted_function", "function", "sum", "web/src/cart", [5, 7], 0, 3),
    ]
    refund = chunks["delete"][0]
    assert refund.new_code is None and refund.old_code == "def refund(items, share):\n    return total(items) * share\n"
    assert refund.patch == "@@ -5,2 +2,0 @@\n-def refund(items, share):\n-    return total(items) * share\n"


def test_added_tests(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["tests"]] == [
        (RUST, "M", "new_test", "module", "tests", "energy_market::disputes", [9, 17], 9, 0),
        ("tests/test_billing.py", "A", "new_test", "module", None, "tests.test_billing", [1, 1], 1, 0),
        ("tests/test_billing.py", "A", "new_test", "test", "test_total", "tests.test_billing", [4, 5], 2, 0),
        ("web/src/cart.test.ts", "A", "new_test", "module", None, "web/src/cart.test", [1, 1], 1, 0),
        ("web/src/cart.test.ts", "A", "new_test", "test", "count", "web/src/cart.test", [3, 7], 5, 0),
    ]
    rust = chunks["tests"][0]
    assert rust.new_code == ("#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn opens() {\n"
                             "        assert_eq!(open(1).id, 2);\n    }\n}\n")
    assert chunks["tests"][2].new_code == "def test_total():\n    assert total([1, 2]) == 3\n"
    # a test added to an existing suite is its own chunk, named inside the suite
    assert [_summary(c) for c in chunks["more_tests"]] == [
        (RUST, "M", "new_test", "test", "tests::opens_twice", "energy_market::disputes", [18, 21], 4, 0),
        ("web/src/cart.test.ts", "M", "new_test", "test", "count > skips negatives", "web/src/cart.test", [8, 10], 3, 0),
    ]
    rust, ts = chunks["more_tests"]
    assert rust.new_code == "    #[test]\n    fn opens_twice() {\n        assert_eq!(open(open(1).id).id, 3);\n    }\n"
    assert ts.new_code == '  it("skips negatives", () => {\n    expect(count([-1, 2])).toBe(1);\n  });\n'


def test_renamed_struct_is_one_refactor_chunk(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["rename"]] == [
        (RUST, "M", "refactor", "type", "Claim", "energy_market::disputes", [1, 3], 1, 1),
    ]
    (chunk,) = chunks["rename"]
    assert chunk.old_code == "pub struct Dispute {\n    pub id: u32,\n}\n"
    assert chunk.new_code == "pub struct Claim {\n    pub id: u32,\n}\n"


def test_toml_keys_chunk_by_section(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["toml"]] == [
        ("Cargo.toml", "M", "configuration", "section", "package.version", None, [1, 3], 1, 1),
        ("Cargo.toml", "M", "dependency_update", "section", "dependencies.serde", None, [5, 6], 1, 1),
    ]
    package, dependencies = chunks["toml"]
    assert package.old_code == '[package]\nname = "market"\nversion = "0.1.0"\n'
    assert package.new_code == '[package]\nname = "market"\nversion = "0.2.0"\n'
    assert dependencies.new_code == '[dependencies]\nserde = "1.0.200"\n'


def test_markdown_edit_chunks_the_section(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["markdown"]] == [
        ("README.md", "M", "documentation", "section", "Market > Usage", None, [5, 7], 1, 1),
    ]
    (chunk,) = chunks["markdown"]
    assert chunk.old_code == "## Usage\n\nRun it.\n"
    assert chunk.new_code == "## Usage\n\nRun `market open`.\n"


def test_fix_commit_is_a_bug_fix(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["fix"]] == [
        (PYTHON, "M", "bug_fix", "function", "total", "pkg.billing", [1, 2], 1, 1),
    ]
    (chunk,) = chunks["fix"]
    assert chunk.old_code == "def total(items):\n    return sum(item for item in items)\n"
    assert chunk.new_code == "def total(items):\n    return sum(item for item in items if item is not None)\n"
    assert chunk.commit_meta.subject == "fix: total ignores missing items"
    assert chunk.commit_meta.email == "ada@example.com"


def test_initial_import_chunks_every_unit(project):
    chunks, _, _ = project
    assert [_summary(c) for c in chunks["initial"]] == [
        ("Cargo.toml", "A", "configuration", "section", "package", None, [1, 3], 3, 0),
        ("Cargo.toml", "A", "dependency_update", "section", "dependencies", None, [5, 6], 2, 0),
        ("README.md", "A", "documentation", "section", "Market", None, [1, 11], 11, 0),
        (PYTHON, "A", "new_function", "function", "total", "pkg.billing", [1, 2], 2, 0),
        (RUST, "A", "new_type", "type", "Dispute", "energy_market::disputes", [1, 3], 3, 0),
        (RUST, "A", "new_function", "function", "open", "energy_market::disputes", [5, 7], 3, 0),
        (TS, "A", "new_function", "function", "count", "web/src/cart", [1, 3], 3, 0),
    ]


def test_related_files_and_token_estimate(project):
    chunks, _, _ = project
    refund = chunks["add"][0]
    assert refund.related_files == [RUST, TS]  # the commit's other files
    assert refund.token_estimate == -(-(len(refund.new_code) + len(refund.patch)) * 2 // 7)
    # alone in its commit: the files that changed with it at least twice before, most often first
    assert chunks["rename"][0].related_files == [PYTHON, TS, "web/src/cart.test.ts"]  # 4, 4 and 2 times
    assert chunks["fix"][0].related_files == [RUST, TS]
    assert chunks["more_tests"][1].related_files == [RUST]  # test_billing.py changed with it only once


def test_stats_in_manifest(project, tmp_path):
    chunks, stats, _ = project
    manifest = json.loads((tmp_path / "ws" / "MANIFEST.json").read_text())
    phase = manifest["phases"]["chunk"]
    assert phase["status"] == "completed" and phase["outputs"] == ["chunks.jsonl"]
    figures = phase["stats"]
    total = sum(len(v) for v in chunks.values())
    assert figures["chunks"] == total == 28
    assert figures["commits"] == 10
    assert figures["expansion_factor"] == 2.8
    assert figures["chunks_per_change_type"] == {
        "new_test": 7, "new_function": 6, "modified_function": 3, "deleted_function": 3, "configuration": 2,
        "dependency_update": 2, "documentation": 2, "new_type": 1, "refactor": 1, "bug_fix": 1,
    }
    assert figures["chunks_per_language"] == {"rust": 8, "python": 7, "typescript": 7, "toml": 4, "markdown": 2}
    assert figures["parse_fallbacks"] == 0
    assert figures["file_changes"] == 23 and figures["file_changes_by_mode"] == {"syntax": 23}
    assert phase["config"]["max_chunk_tokens"] == 512 and phase["config"]["min_chunk_tokens"] == 0


def test_small_neighbours_merge_up_to_min_tokens(make_repo, tmp_path):
    chunks, stats, _ = _run(make_repo, tmp_path)  # default min_chunk_tokens=64
    assert [_summary(c) for c in chunks["tests"]] == [
        (RUST, "M", "new_test", "module", "tests", "energy_market::disputes", [9, 17], 9, 0),
        ("tests/test_billing.py", "A", "new_test", "group", "test_total", "tests.test_billing", [1, 5], 3, 0),
        ("web/src/cart.test.ts", "A", "new_test", "group", "count", "web/src/cart.test", [1, 7], 6, 0),
    ]
    merged = chunks["tests"][1]
    assert merged.new_code == "from pkg.billing import total\ndef test_total():\n    assert total([1, 2]) == 3\n"
    assert merged.patch == ("@@ -0,0 +1 @@\n+from pkg.billing import total\n"
                            "@@ -0,0 +4,2 @@\n+def test_total():\n+    assert total([1, 2]) == 3\n")
    assert stats.merged_chunks == 2


def test_worker_processes_give_the_same_chunks(make_repo, tmp_path):
    repo, _ = build_project(make_repo)
    outputs = {}
    for workers in (1, 3):
        config = GitlmConfig(out=tmp_path / f"ws{workers}", chunk={"workers": workers, "min_chunk_tokens": 0})
        scrape_to_workspace(repo.path, config)
        stats = chunk_workspace(tmp_path / f"ws{workers}", config)
        outputs[workers] = ((tmp_path / f"ws{workers}" / "chunks.jsonl").read_bytes(), stats.as_dict())
    assert outputs[1][0] == outputs[3][0]
    # the library entry point yields the same records from the workers' lines
    config = GitlmConfig(chunk={"workers": 2, "min_chunk_tokens": 0})
    records = list(chunk_commits(iter_jsonl(tmp_path / "ws3" / "commits.jsonl", Commit), repo.path, config))
    assert b"".join(encode_record(r) + b"\n" for r in records) == outputs[1][0]
    same = ("chunks", "chunks_per_change_type", "chunks_per_language", "chunks_per_unit_kind", "file_changes_by_mode",
            "split_units", "merged_chunks", "parse_fallbacks", "commits_with_chunks", "file_changes", "tokens_total",
            "tokens_min", "tokens_max", "expansion_factor")
    assert {k: outputs[1][1][k] for k in same} == {k: outputs[3][1][k] for k in same}


def test_output_does_not_depend_on_string_hashing(make_repo, tmp_path):
    """Two runs with different PYTHONHASHSEEDs write byte-identical chunks.jsonl."""
    import os
    import subprocess
    import sys

    repo, _ = build_project(make_repo)
    config = GitlmConfig(out=tmp_path / "ws")
    scrape_to_workspace(repo.path, config)
    code = "import sys; from gitlm.chunk import chunk_workspace; chunk_workspace(sys.argv[1])"
    outputs = []
    for seed in ("1", "2"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {"PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "ws")], check=True, env=env)
        outputs.append((tmp_path / "ws" / "chunks.jsonl").read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 26
