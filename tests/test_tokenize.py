"""gitlm tokenize on a real history: strategies, tokenizers, packing, temporal split, exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pyarrow.parquet as pq
import pytest

from gitlm.schema import Chunk, Commit, CommitMeta, encode_record, iter_jsonl
from gitlm.tokenize import render, tokenize_workspace
from gitlm.tokenize.gpt2 import GPT2_EOS_ID, R50K_SHA256, file_sha256, gpt2_tiktoken_file
from gitlm.tokenize.packing import sequence_count
from gitlm.tokenize.special import EOS, MARKERS, PAD, text_pieces
from gitlm.tokenize.split import TemporalSplit
from gitlm.tokenize.strategies import STRATEGY_NAMES, hunks
from gitlm.tokenize.tokenizer import default_vocab_size, load_gpt2, load_local, split_for_encoding
from gitlm.workspace import Workspace
from tests.gitrepo import git_test_env
from tests.tokenize_fixtures import GRACE, build_tokenize_history, commit_time, config, copy_workspace, scraped_workspace

GITLM_SOURCES = sorted((Path(__file__).resolve().parents[1] / "gitlm").rglob("*.py"))


def source_text(path: Path) -> str:
    """A source file as code-sample text, without gitlm's marker strings (gitlm's own
    tokenizers encode those as single special ids; GPT-2's reference does not know them)."""
    text = path.read_text(encoding="utf-8")
    for marker in MARKERS:
        text = text.replace(marker, "")
    return text


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """The fixture history scraped once; each test copies the workspace it writes into."""
    root = tmp_path_factory.mktemp("tokenize")
    home = root / "home"
    home.mkdir()

    class Maker:
        def __call__(self, name: str = "repo", **kwargs):
            from tests.gitrepo import GitRepo

            return GitRepo(root / name, git_test_env(home), **kwargs)

    repo = build_tokenize_history(Maker())
    workspace = scraped_workspace(repo, root / "scraped")
    commits = list(iter_jsonl(workspace.path("commits.jsonl"), Commit))
    return repo, workspace, commits


@pytest.fixture
def workspace(history, tmp_path) -> Workspace:
    return copy_workspace(history[1], tmp_path / "ws")


def read_meta(workspace: Workspace) -> dict:
    return json.loads(workspace.path("tokens/meta.json").read_text())


def split_ids(workspace: Workspace, name: str) -> np.ndarray:
    meta = read_meta(workspace)
    path = workspace.path(f"tokens/{name}.bin")
    return np.fromfile(path, dtype=meta["dtype"])


def documents_by_id(workspace: Workspace) -> dict[str, dict]:
    table = pq.read_table(workspace.path("tokens/documents.parquet")).to_pylist()
    return {row["doc_id"]: row for row in table}


# -- strategies --------------------------------------------------------------------------


def test_semantic_renders_markers_counts_and_paths(history):
    _, _, commits = history
    fix = commits[1]
    assert render("semantic", [fix]).__next__().text == (
        f"<COMMIT> {fix.abbrev_hash} <AUTHOR> Grace Hopper <grace@example.com> <DATE> 2023-11-15 <BRANCH> main "
        "<MESSAGE> fix(app): greet politely (#3)\n"
        "<FILE_ADD> 0 <FILE_MOD> 1 <FILE_DEL> 0 <FILE_REN> 0 <INSERTIONS> 1 <DELETIONS> 1 <FILES> <FILE:src/app.py>"
    )
    first = next(render("semantic", [commits[0]]))
    assert first.text.startswith(f"<COMMIT> {commits[0].abbrev_hash} <AUTHOR> Ada Lovelace <ada@example.com> <DATE> 2023-11-14")
    assert "<MESSAGE> feat(app): initial import\n\nAdds hello().\n<FILE_ADD> 2 " in first.text
    assert first.text.endswith("<FILES> <FILE:README.md> <FILE:src/app.py>")
    assert first.timestamp == commit_time(1) and first.doc_id == commits[0].hash
    last = next(render("semantic", [commits[-1]]))
    assert "<BRANCH> main <TAG> v1.0 <MESSAGE> feat(lima):" in last.text


def test_hierarchical_shows_the_first_parent_chain_oldest_first(history):
    _, _, commits = history
    subjects = {c.message_subject: c for c in commits}
    docs = {d.doc_id: d.text for d in render("hierarchical", commits, history_depth=3)}
    merge = subjects["Merge branch 'feature/cli'"]
    assert docs[merge.hash].startswith(
        "<HISTORY> <ANCESTOR> feat(app): initial import <ANCESTOR> fix(app): greet politely (#3) "
        "<ANCESTOR> docs: add a guide\n<COMMIT> "
    )
    branch_commit = subjects["feat(cli): add a command line"]
    assert docs[branch_commit.hash].startswith(
        "<HISTORY> <ANCESTOR> feat(app): initial import <ANCESTOR> fix(app): greet politely (#3)\n<COMMIT> "
    )
    assert docs[commits[0].hash].startswith("<HISTORY>\n<COMMIT> ")
    # depth bounds the chain
    shallow = {d.doc_id: d.text for d in render("hierarchical", commits, history_depth=1)}
    assert shallow[merge.hash].startswith("<HISTORY> <ANCESTOR> docs: add a guide\n<COMMIT> ")


def test_diff_aware_has_per_file_stats_and_hunks_without_git_headers(history):
    _, _, commits = history
    subjects = {c.message_subject: c for c in commits}
    fix = subjects["fix(app): greet politely (#3)"]
    text = next(render("diff-aware", [fix])).text
    assert text.endswith(
        "<FILE:src/app.py> <CHANGE:M> <INSERTIONS> 1 <DELETIONS> 1 <DIFF>\n"
        "@@ -1,2 +1,2 @@\n def hello(name):\n-    return f'hello {name}'\n+    return f'Hello, {name}!'\n"
    )
    assert "index " not in text and "diff --git" not in text
    rename = next(render("diff-aware", [subjects["refactor: rename cli to command"]])).text
    assert "<FILE:src/command.py> <CHANGE:R> <INSERTIONS> 0 <DELETIONS> 0 <FROM> src/cli.py" in rename
    logo = next(render("diff-aware", [subjects["Add a logo"]])).text
    assert logo.endswith("<FILE:assets/logo.png> <CHANGE:A> <INSERTIONS> 0 <DELETIONS> 0 <BINARY>")
    assert hunks(fix.files[0]).startswith("@@ -1,2 +1,2 @@")


def test_flat_is_git_log_patch_text(history):
    _, _, commits = history
    fix = commits[1]
    text = next(render("flat", [fix])).text
    assert text == (
        f"commit {fix.hash}\nAuthor: Grace Hopper <grace@example.com>\nDate:   {fix.author_date}\n\n"
        f"    fix(app): greet politely (#3)\n\n{fix.files[0].patch}"
    )
    assert not any(marker in text for marker in MARKERS)


def chunk(index: int, commit: Commit, **fields) -> Chunk:
    values = dict(
        chunk_id=f"{commit.hash}_{index}", commit_hash=commit.hash, commit_number=commit.commit_number,
        file_path="src/app.py", old_path=None, language="python", change_category="M",
        change_type="modified_function", unit_kind="function", function_name="hello", module_path="app",
        old_code="def hello(name):\n    return f'hello {name}'\n", new_code="def hello(name):\n    return f'Hello, {name}!'\n",
        patch="@@ -1,2 +1,2 @@\n", line_range=[1, 2], additions=1, deletions=1,
        commit_meta=CommitMeta(commit.author_name, commit.author_email, commit.committer_timestamp, commit.message_subject),
        related_files=[], token_estimate=20,
    )
    values.update(fields)
    return Chunk(**values)


def test_chunks_hybrid_format(history):
    _, _, commits = history
    fix = commits[1]
    assert next(render("chunks", [chunk(0, fix)])).text == (
        "<COMMIT_START> <FILE:src/app.py> <CHANGE:modified_function> <AUTHOR:grace@example.com> "
        "<TIMESTAMP:2023-11> <MODULE:app> <CODE_START>\ndef hello(name):\n    return f'Hello, {name}!'\n"
        "<CODE_END> <COMMIT_END>"
    )
    deleted = chunk(1, fix, change_type="deleted_function", new_code=None, module_path=None)
    assert next(render("chunks", [deleted])).text == (
        "<COMMIT_START> <FILE:src/app.py> <CHANGE:deleted_function> <AUTHOR:grace@example.com> "
        "<TIMESTAMP:2023-11> <CODE_START>\ndef hello(name):\n    return f'hello {name}'\n<CODE_END> <COMMIT_END>"
    )


def test_text_pieces_drop_markers_and_added_context_tokens():
    text = "<COMMIT> ab <FILE:a.py> x <FILE:b.py><DIFF>\n@@"
    assert text_pieces(text, {"<FILE:a.py>"}) == [" ab ", " x <FILE:b.py>", "\n@@"]


# -- tokenize end to end -----------------------------------------------------------------


@pytest.mark.parametrize("strategy", [s for s in STRATEGY_NAMES if s != "chunks"])
def test_each_strategy_round_trips_through_the_packed_tokens(history, workspace, strategy):
    _, _, commits = history
    stats = tokenize_workspace(workspace, config(tokenize={"strategy": strategy, "sequence_length": 64, "overlap": 8}))
    assert stats.documents == len(commits) == 20
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(workspace.path("tokenizer")), local_files_only=True)
    meta = read_meta(workspace)
    index = documents_by_id(workspace)
    streams = {name: split_ids(workspace, name) for name in ("train", "val", "test")}
    for document in render(strategy, commits, history_depth=8):
        row = index[document.doc_id]
        ids = streams[row["split"]][row["offset"]:row["offset"] + row["tokens"] + 1]
        assert ids[-1] == meta["eos_token_id"]
        assert tokenizer.decode(ids[:-1].tolist()) == document.text
        assert tokenizer(document.text, add_special_tokens=False)["input_ids"] == ids[:-1].tolist()


def test_special_token_spellings_in_history_text_stay_text(make_repo, tmp_path):
    repo = make_repo("llm")
    repo.write("prep.py", "SEP = '<|endoftext|>'  # like GPT-2\nPAD = '<|pad|>'\n")
    repo.commit("Document the <COMMIT> and <|endoftext|> tokens")
    workspace = scraped_workspace(repo, tmp_path / "ws")
    tokenize_workspace(workspace, config(tokenize={"strategy": "diff-aware"}))
    tokenizer = load_local(workspace.path("tokenizer"))
    ids = split_ids(workspace, "train")
    document = next(render("diff-aware", iter_jsonl(workspace.path("commits.jsonl"), Commit)))
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.eos_token_id not in ids[:-1].tolist()
    assert tokenizer.pad_token_id not in ids.tolist()
    commit_id = tokenizer.marker_ids["<COMMIT>"]
    assert ids.tolist().count(commit_id) == 1 and ids[0] == commit_id  # the renderer's, not the message's
    assert tokenizer.decode(ids[:-1].tolist()) == document.text


def test_every_marker_is_one_special_id_in_every_tokenizer(workspace, tmp_path):
    tokenize_workspace(workspace, config(tokenize={"strategy": "semantic"}))
    repo_bpe = load_local(workspace.path("tokenizer"))
    gpt2 = load_gpt2(tmp_path / "cache")
    local_dir = tiny_local_tokenizer(tmp_path / "local")
    local = load_local(local_dir)
    for tokenizer in (repo_bpe, gpt2, local):
        ids = {}
        for token in (*MARKERS, EOS, PAD):
            encoded = tokenizer.backend.encode(f"a{token}b", add_special_tokens=False)
            assert encoded.tokens.count(token) == 1, (tokenizer.kind, token)
            ids[token] = tokenizer.backend.token_to_id(token)
        assert len(set(ids.values())) == len(ids)
        assert tokenizer.eos_token_id == ids[EOS] and tokenizer.pad_token_id == ids[PAD]
    assert (repo_bpe.eos_token_id, repo_bpe.pad_token_id) == (0, 1)
    assert gpt2.eos_token_id == GPT2_EOS_ID and gpt2.vocab_size == 50257 + len(MARKERS) + 1


def test_frequent_context_tokens_become_single_tokens(history, workspace):
    stats = tokenize_workspace(workspace, config(tokenize={"strategy": "diff-aware", "context_tokens": 3}))
    assert stats.context_tokens_added == 3
    tokenizer = load_local(workspace.path("tokenizer"))
    # counts: <CHANGE:A> 18; docs/guide.md, src/app.py, src/cli.py 2 each (ties by text); <CHANGE:M> 1
    for token in ("<CHANGE:A>", "<FILE:docs/guide.md>", "<FILE:src/app.py>"):
        assert tokenizer.backend.encode(token, add_special_tokens=False).tokens == [token]
    for token in ("<FILE:src/cli.py>", "<CHANGE:M>"):  # outside the top three: plain text
        assert len(tokenizer.backend.encode(token, add_special_tokens=False).ids) > 1


def test_packing_keeps_every_token_in_order(history, workspace):
    _, _, commits = history
    stats = tokenize_workspace(workspace, config(tokenize={"strategy": "diff-aware", "sequence_length": 50, "overlap": 10}))
    meta = read_meta(workspace)
    tokenizer = load_local(workspace.path("tokenizer"))
    docs = list(render("diff-aware", commits))
    expected = []
    for document in docs:
        expected.extend(tokenizer.backend.encode(document.text, add_special_tokens=False).ids + [meta["eos_token_id"]])
    packed = np.concatenate([split_ids(workspace, name) for name in ("train", "val", "test")])
    assert packed.tolist() == expected  # dates increase, so train + val + test is the input order
    assert meta["total_tokens"] == stats.total_tokens == len(expected)
    assert meta["dtype"] == "uint16" and meta["stride"] == 40 and meta["tokenizer"] == "tokenizer"
    for name in ("train", "val", "test"):
        ids = split_ids(workspace, name)
        split = meta["splits"][name]
        assert split["tokens"] == len(ids) and split["sequences"] == sequence_count(len(ids), 50, 10)
        # the sequences, minus each one's overlap with the previous, rebuild the split exactly
        sequences = [ids[i * 40:i * 40 + 50] for i in range(split["sequences"])]
        rebuilt = np.concatenate([sequences[0]] + [s[10:] for s in sequences[1:]])
        assert rebuilt.tolist() == ids.tolist()
        assert all(len(s) == 50 for s in sequences[:-1]) and 0 < len(sequences[-1]) <= 50


def test_sequence_count_formula():
    assert sequence_count(0, 1024, 128) == 0
    assert sequence_count(1, 1024, 128) == 1
    assert sequence_count(1024, 1024, 128) == 1
    assert sequence_count(1025, 1024, 128) == 2
    assert sequence_count(1024 + 896, 1024, 128) == 2
    assert sequence_count(1024 + 897, 1024, 128) == 3


def test_temporal_split_on_known_dates(history, workspace):
    stats = tokenize_workspace(workspace, config(tokenize={"strategy": "semantic"}))
    meta = read_meta(workspace)
    # 20 documents one hour apart, 70/15/15: the oldest 14, the next 3, the newest 3
    assert [meta["splits"][n]["documents"] for n in ("train", "val", "test")] == [14, 3, 3]
    assert meta["splits"]["train"]["first_timestamp"] == commit_time(1)
    assert meta["splits"]["train"]["last_timestamp"] == commit_time(14)
    assert meta["splits"]["val"]["first_timestamp"] == commit_time(15)
    assert meta["splits"]["val"]["last_timestamp"] == commit_time(17)
    assert meta["splits"]["test"]["first_timestamp"] == commit_time(18)
    assert meta["splits"]["test"]["last_timestamp"] == commit_time(20)
    assert stats.split_cuts["train_until"] == commit_time(14)
    rows = pq.read_table(workspace.path("tokens/documents.parquet")).to_pylist()
    assert [r["position"] for r in rows if r["split"] == "val"] == [0, 1, 2]


def test_temporal_split_keeps_ties_together_and_never_shuffles():
    stamps = np.array([10, 20, 20, 20, 30, 40, 50, 60, 70, 80])
    split = TemporalSplit.from_timestamps(stamps, [30, 30, 40])
    assert [split.assign(int(t)) for t in stamps] == [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    everything = TemporalSplit.from_timestamps(stamps, [100, 0, 0])
    assert {everything.assign(int(t)) for t in stamps} == {0}
    no_val = TemporalSplit.from_timestamps(stamps, [50, 0, 50])
    assert [no_val.assign(int(t)) for t in stamps] == [0] * 5 + [2] * 5
    # skewed dates (a child committed "before" its parent) still split by time
    skewed = TemporalSplit.from_timestamps(np.array([5, 1, 2, 3]), [50, 50, 0])
    assert [skewed.assign(t) for t in (5, 1, 2, 3)] == [1, 0, 0, 1]


def test_epoch_formula_is_recorded_in_the_manifest(workspace):
    stats = tokenize_workspace(workspace, config(tokenize={"target_tokens": 10_000, "min_epochs": 2, "max_epochs": 50}))
    manifest = json.loads(workspace.path("MANIFEST.json").read_text())
    expected = max(2, min(50, 10_000 // stats.total_tokens))
    assert manifest["training_parameters"] == {
        "epochs": expected,
        "epoch_formula": {"target_tokens": 10_000, "total_tokens": stats.total_tokens, "min_epochs": 2, "max_epochs": 50},
    }
    phase = manifest["phases"]["tokenize"]
    assert phase["status"] == "completed" and phase["stats"]["total_tokens"] == stats.total_tokens
    assert phase["stats"]["epochs"] == expected and "tokens/train.bin" in phase["outputs"]
    assert manifest["phases"]["scrape"]["status"] == "completed"  # other phases kept


def test_exports_token_sequences_and_tokenized_commits(history, workspace):
    _, _, commits = history
    stats = tokenize_workspace(workspace, config(tokenize={"exports": True, "sequence_length": 32, "overlap": 4}))
    meta = read_meta(workspace)
    exported = json.loads(workspace.path("tokens/token_sequences.json").read_text())
    assert exported["vocab_size"] == meta["vocab_size"] and exported["total_tokens"] == stats.total_tokens
    assert exported["num_sequences"] == len(exported["token_sequences"]) == stats.sequences
    train = split_ids(workspace, "train")
    assert exported["token_sequences"][0] == train[:32].tolist()
    val_first = exported["splits"]["val"]["first_sequence"]
    assert exported["token_sequences"][val_first] == split_ids(workspace, "val")[:32].tolist()
    lines = [json.loads(line) for line in workspace.path("tokens/tokenized_commits.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [c.hash for c in commits]
    assert sum(line["num_tokens"] + 1 for line in lines) == stats.total_tokens
    assert lines[0]["token_ids"] == train[:lines[0]["num_tokens"]].tolist()


def test_stats_report_tokens_per_document_and_byte_fallback(workspace):
    stats = tokenize_workspace(workspace, config(tokenize={"strategy": "diff-aware"})).as_dict()
    per_doc = stats["tokens_per_document"]
    assert per_doc["min"] <= per_doc["p50"] <= per_doc["max"] and per_doc["mean"] > 0
    assert stats["document_tokens"] == stats["total_tokens"] - stats["documents"]
    # README.md has 日本語 and an emoji; a vocabulary trained on 20 commits splits them into bytes
    assert 0 < stats["byte_fallback_tokens"] < stats["document_tokens"]
    assert stats["byte_fallback_rate"] == round(stats["byte_fallback_tokens"] / stats["document_tokens"], 6)


def test_near_duplicates_are_dropped_and_counted(make_repo, tmp_path):
    repo = make_repo("dups")
    repo.write("a.py", "print('one')\n")
    repo.commit("Add the first script")
    repo.git("checkout", "-q", "-b", "other")
    repo.write("b.py", "".join(f"print('line {n}', {n * n})\n" for n in range(60)))
    repo.commit("Add the second script")
    repo.git("checkout", "-q", "main")
    repo.git("cherry-pick", "other")  # the same change again, with another hash and date
    workspace = scraped_workspace(repo, tmp_path / "ws")
    on = tokenize_workspace(workspace, config(privacy={"dedup": True}, tokenize={"strategy": "diff-aware"}))
    assert (on.documents_read, on.documents, on.near_duplicates_removed, on.dedup) == (3, 2, 1, "on")
    off = tokenize_workspace(workspace, config(tokenize={"strategy": "diff-aware"}))
    assert (off.documents, off.near_duplicates_removed, off.dedup) == (3, 0, "off")


def test_chunks_strategy_reads_chunks_jsonl(history, workspace):
    _, _, commits = history
    chunks = [chunk(0, commits[1]), chunk(1, commits[1], file_path="src/cli.py", module_path="cli"),
              chunk(0, commits[2], new_code="print('new')")]
    with open(workspace.path("chunks.jsonl"), "wb") as handle:
        for record in chunks:
            handle.write(encode_record(record) + b"\n")
    stats = tokenize_workspace(workspace, config(tokenize={"strategy": "chunks", "split": "34/33/33"}))
    assert stats.documents == 3 and stats.strategy == "chunks"
    index = documents_by_id(workspace)
    assert index[f"{commits[2].hash}_0"]["split"] == "test"
    tokenizer = load_local(workspace.path("tokenizer"))
    row = index[f"{commits[1].hash}_1"]
    ids = split_ids(workspace, row["split"])[row["offset"]:row["offset"] + row["tokens"]]
    assert tokenizer.decode(ids.tolist()) == next(render("chunks", [chunks[1]])).text


# -- tokenizers ------------------------------------------------------------------------------


def tiktoken_r50k():
    """tiktoken's r50k_base built from the same local file (tiktoken.get_encoding would download)."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext.openai_public import r50k_pat_str

    ranks = load_tiktoken_bpe(str(gpt2_tiktoken_file()))
    return tiktoken.Encoding(name="r50k_base", pat_str=r50k_pat_str, mergeable_ranks=ranks, special_tokens={EOS: GPT2_EOS_ID})


CODE_SAMPLES = [
    "def f(x):\n    return x  \n\n\n\tif x:   pass\r\n",
    "Don't won't it's we'll they're I'm you've 12345678 3.14159 0xDEADBEEF",
    "naïve café 日本語のテキスト 🎉🚀 Ωmega\u00a0nbsp",
    "    \n  \n\n   trailing   ",
    "<|endoftext|> is GPT-2's end of text",
]


def test_gpt2_ids_equal_tiktoken_r50k_base(tmp_path):
    assert file_sha256(gpt2_tiktoken_file()) == R50K_SHA256  # byte-identical to tiktoken's r50k_base
    encoding = tiktoken_r50k()
    tokenizer = load_gpt2(tmp_path / "cache")
    samples = CODE_SAMPLES + [source_text(path) for path in GITLM_SOURCES[:12]]
    for sample in samples:
        expected = encoding.encode(sample, allowed_special="all")
        assert tokenizer.backend.encode(sample, add_special_tokens=False).ids == expected
        assert tokenizer.decode(expected) == sample
        # history text is encoded as text even where it spells <|endoftext|>
        assert tokenizer.encode_batch([sample])[0].tolist() == encoding.encode_ordinary(sample)
    assert list((tmp_path / "cache").glob("gpt2-*/tokenizer.json")), "converted once and cached"
    cached = load_gpt2(tmp_path / "cache")  # from the cache this time
    assert cached.backend.encode(samples[5], add_special_tokens=False).ids == encoding.encode(samples[5])


def test_gpt2_workspace_tokenizer_loads_with_autotokenizer(history, workspace, tmp_path):
    _, _, commits = history
    stats = tokenize_workspace(workspace, config(tokenize={"tokenizer": "gpt2", "strategy": "flat", "cache_dir": str(tmp_path / "cache")}))
    assert stats.vocab_size == 50257 + len(MARKERS) + 1 and read_meta(workspace)["dtype"] == "uint16"
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(workspace.path("tokenizer")), local_files_only=True)
    assert tokenizer.eos_token == EOS and tokenizer.eos_token_id == GPT2_EOS_ID and tokenizer.pad_token == PAD
    saved = json.loads(workspace.path("tokenizer/special_tokens_map.json").read_text())
    assert saved["eos_token"] == EOS and saved["pad_token"] == PAD and saved["additional_special_tokens"] == list(MARKERS)
    encoding = tiktoken_r50k()
    text = next(render("flat", commits[:1])).text
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == encoding.encode(text)
    train = split_ids(workspace, "train")
    assert train[:len(encoding.encode(text))].tolist() == encoding.encode(text)


def test_long_texts_encode_in_pieces_with_identical_ids(tmp_path):
    text = "\n".join(path.read_text(encoding="utf-8") for path in GITLM_SOURCES) + "  \n\t  x" + " y" * 5000
    pieces = split_for_encoding(text, 4096)
    assert len(pieces) > 10 and "".join(pieces) == text and max(map(len, pieces)) <= 4096
    tokenizer = load_gpt2(tmp_path / "cache")
    assert tokenizer.encode_batch([text, "short"])[0].tolist() == tiktoken_r50k().encode_ordinary(text)
    one_line = "x" * 50_000 + " tail"
    assert split_for_encoding(one_line, 4096) == ["x" * 50_000, " tail"]


def tiny_local_tokenizer(directory: Path) -> Path:
    """A small byte-level BPE saved in AutoTokenizer's layout, with no eos or pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator([path.read_text(encoding="utf-8") for path in GITLM_SOURCES[:5]], trainer)
    PreTrainedTokenizerFast(tokenizer_object=backend).save_pretrained(str(directory))
    return directory


def test_tokenizer_from_a_local_directory(history, workspace, tmp_path):
    _, _, commits = history
    local = tiny_local_tokenizer(tmp_path / "mine")
    from tokenizers import Tokenizer

    original = Tokenizer.from_file(str(local / "tokenizer.json"))
    stats = tokenize_workspace(workspace, config(tokenize={"tokenizer": str(local), "strategy": "flat"}))
    assert stats.tokenizer == str(local.resolve()) and stats.vocab_size == original.get_vocab_size() + len(MARKERS) + 2
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(str(workspace.path("tokenizer")), local_files_only=True)
    assert saved.eos_token == EOS and saved.pad_token == PAD
    text = next(render("flat", commits[:1])).text
    assert saved(text, add_special_tokens=False)["input_ids"] == original.encode(text).ids  # its own ids kept
    train = split_ids(workspace, "train")
    assert train[:len(original.encode(text).ids) + 1].tolist() == original.encode(text).ids + [saved.eos_token_id]


def test_default_vocab_size_scales_with_the_corpus():
    assert default_vocab_size(0) == 1024
    assert default_vocab_size(2_000_000) == 5632
    assert default_vocab_size(35_000_000) == 23680
    assert default_vocab_size(10**10) == 32768


# -- the command -------------------------------------------------------------------------------


def gitlm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_command_tokenizes_and_prints_stats(workspace):
    proc = gitlm("tokenize", "--workspace", str(workspace.root), "--strategy", "semantic", "--sequence-length", "128",
                 "--overlap", "16", "--stats", "--no-dedup")
    assert proc.returncode == 0, proc.stderr
    assert "tokenized 20 documents (semantic)" in proc.stdout and "byte-fallback rate" in proc.stdout
    assert read_meta(workspace)["sequence_length"] == 128


@pytest.mark.parametrize("args, message", [
    (["--overlap", "128", "--sequence-length", "128"], "error: command-line option: tokenize: overlap (128) must be smaller than sequence_length (128)\n"),
    (["--split", "70/20/20"], "error: command-line option: tokenize.split: must sum to 100 (70/20/20 sums to 110) (got '70/20/20')\n"),
    (["--strategy", "poetry"], "error: command-line option: tokenize.strategy: Input should be 'semantic', 'hierarchical', 'diff-aware', 'flat' or 'chunks' (got 'poetry')\n"),
    (["--tokenizer", "no/such/dir"], "error: tokenizer 'no/such/dir' is not repo-bpe, gpt2 or a tokenizer directory\n"),
])
def test_bad_arguments_are_one_line_exit_2(workspace, args, message):
    proc = gitlm("tokenize", "--workspace", str(workspace.root), *args)
    assert (proc.returncode, proc.stderr) == (2, message)
    assert not workspace.path("tokens").exists()


def test_missing_chunks_is_one_line_exit_2(workspace):
    proc = gitlm("tokenize", "--workspace", str(workspace.root), "--strategy", "chunks")
    assert proc.returncode == 2
    assert proc.stderr == f"error: {workspace.path('chunks.jsonl')} does not exist; run `gitlm chunk` first\n"


def test_decoder_for_chunk_records_matches_schema():
    # the chunks strategy reads the shared schema; a Chunk round-trips through JSON
    record = msgspec.json.decode(encode_record(chunk(0, _commit_stub())), type=Chunk)
    assert next(render("chunks", [record])).doc_id == "c0ffee_0"


def _commit_stub() -> Commit:
    return Commit(hash="c0ffee", abbrev_hash="c0ffee", parents=[], is_merge=False, commit_number=0,
                  author_name=GRACE[0], author_email=GRACE[1], author_timestamp=0, author_date="1970-01-01T00:00:00+00:00",
                  committer_name=GRACE[0], committer_email=GRACE[1], committer_timestamp=0,
                  committer_date="1970-01-01T00:00:00+00:00", co_authors=[], message_subject="s", message_body="",
                  conventional_type=None, conventional_scope=None, is_breaking_change=False, referenced_issues=[],
                  branches=[], tags=[], has_tags=False, files=[], files_added=[], files_modified=[], files_deleted=[],
                  files_renamed=[], insertions=0, deletions=0, files_changed=0, total_lines_changed=0, diff_summary="",
                  stats={}, complexity=0.0)


def test_chunks_end_to_end_with_gitlm_chunk(workspace):
    from gitlm.commands import app

    if "chunk" not in {c.name or c.callback.__name__ for c in app.registered_commands}:
        pytest.skip("gitlm chunk is not built yet")
    proc = gitlm("chunk", "--workspace", str(workspace.root))
    assert proc.returncode == 0, proc.stderr
    chunks = list(iter_jsonl(workspace.path("chunks.jsonl"), Chunk))
    proc = gitlm("tokenize", "--workspace", str(workspace.root), "--strategy", "chunks", "--no-dedup")
    assert proc.returncode == 0, proc.stderr
    assert f"tokenized {len(chunks)} documents (chunks)" in proc.stdout
    tokenizer = load_local(workspace.path("tokenizer"))
    index = documents_by_id(workspace)
    for record in chunks:
        row = index[record.chunk_id]
        ids = split_ids(workspace, row["split"])[row["offset"]:row["offset"] + row["tokens"]]
        assert tokenizer.decode(ids.tolist()) == next(render("chunks", [record])).text
    proc = gitlm("dataset", "--workspace", str(workspace.root), "--context-window", "64", "--target-window", "16", "--stride", "32")
    assert proc.returncode == 0, proc.stderr


def test_reused_tokenizer_encodes_with_the_same_ids(workspace):
    """--train continue keeps tokenizer/: a re-tokenize must give the ids of the first run."""
    first = tokenize_workspace(workspace, config())
    ids = {name: split_ids(workspace, name).copy() for name in ("train", "val", "test")}
    saved = workspace.path("tokenizer/tokenizer.json").read_bytes()
    again = tokenize_workspace(workspace, config(), reuse_tokenizer=True)
    assert again.tokenizer_reused and not first.tokenizer_reused
    assert again.tokenizer == first.tokenizer == "repo-bpe"
    assert again.bpe_training_seconds == 0.0 and again.vocab_size == first.vocab_size
    assert workspace.path("tokenizer/tokenizer.json").read_bytes() == saved
    for name, expected in ids.items():
        assert np.array_equal(split_ids(workspace, name), expected)
    # other settings: the saved tokenizer no longer fits, so a new one is trained
    other = tokenize_workspace(workspace, config(tokenize={"strategy": "flat"}), reuse_tokenizer=True)
    assert not other.tokenizer_reused and other.bpe_training_seconds > 0
