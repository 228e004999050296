"""Benchmark `gitlm train` against a bare PyTorch loop on the same model and data, in one run.

    .venv/bin/python bench/train.py [--repo bench/.work/pallets-flask.git] [--model tiny]
                                    [--steps 30] [--skip 5] [--batch-size 2] [--threads 2] [--repeats 4]

The repository is scraped and tokenized once (gitlm's defaults: repo-bpe, 1,024-token windows
with a 128-token overlap) into a workspace under /tmp. Then, alternating (and alternating
which goes first), each side runs in its own fresh process:

  gitlm  gitlm.train.train(): Lightning, callbacks, history, checkpoint every 500 steps (none
         in the window), hardware monitor thread, then evaluation/export/report after the window
  bare   the loop a PyTorch user writes: the same GPT-2 preset built by the same function, the
         same windows (PackedSequences over the same memmap), the same batch size, AdamW
         (same groups and betas), warmup+cosine LambdaLR, clip_grad_norm_ 1.0, the same loss
         function, the same torch thread count, no data-loader workers on either side

Throughput is tokens (non-padding input ids) per second between the end of step `skip` and
the end of the last step, measured from step-end timestamps, so everything the framework
does between steps (data loading, hooks, logging) counts. The headline ratio is the median
over repeats of gitlm/bare within a back-to-back pair (the machine is shared and its load
drifts). Tokens per CPU-second of the process (time.process_time, every thread) is reported
too: with one torch thread it measures the work done, nearly independent of other load. Peak RSS is each process's own
ru_maxrss (the gitlm process also ran evaluation and export after the window). Prints a
Markdown table for BENCHMARKS.md and writes bench/results/train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable

GITLM_SIDE = r"""
import json, resource, sys, time
from gitlm.config import GitlmConfig, TrainConfig
from gitlm.train import train
args = json.loads(sys.argv[1])
stamps = []
def on_step(record):
    stamps.append((record["step"], time.perf_counter(), record["tokens"], record["loss"], time.process_time()))
config = GitlmConfig(train=TrainConfig(
    model=args["model"], max_steps=args["steps"], batch_size=args["batch_size"], threads=args["threads"],
    workers=0, samples=0, max_eval_batches=1, epochs=1, seed=0))
train(args["workspace"], config, on_step=on_step)
window = [s for s in stamps if s[0] > args["skip"]]
start = [s for s in stamps if s[0] == args["skip"]][0]
print(json.dumps({"tokens": sum(s[2] for s in window), "seconds": window[-1][1] - start[1],
                  "cpu_seconds": window[-1][4] - start[4], "final_loss": window[-1][3],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BARE_SIDE = r"""
import json, resource, sys, time
from functools import partial
import torch
from torch.utils.data import DataLoader, RandomSampler
from transformers import AutoTokenizer
from gitlm.train.data import PackedSequences
from gitlm.train.tokens import open_split, read_token_meta
from gitlm.train.module import lr_multiplier, token_loss, warmup_steps
from gitlm.train.models import build_scratch
from gitlm.train.presets import PRESETS
from gitlm.workspace import Workspace
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
torch.manual_seed(0)
ws = Workspace(args["workspace"])
meta = read_token_meta(ws)
tokenizer = AutoTokenizer.from_pretrained(ws.path("tokenizer"))
seq = int(meta["sequence_length"])
model = build_scratch(PRESETS[args["model"]], tokenizer, seq, 0).model
model.train()
data = PackedSequences(open_split(ws, meta, "train"), seq, int(meta["overlap"]), int(meta["pad_token_id"]))
loader = DataLoader(data, batch_size=args["batch_size"], sampler=RandomSampler(data, generator=torch.Generator().manual_seed(0)))
params = [p for p in model.parameters() if p.requires_grad]
groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.01},
          {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
batch_size = args["batch_size"]
lr = PRESETS[args["model"]].base_lr * batch_size / 8
optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8)
total = min(args["steps"], len(loader))
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_multiplier, warmup=warmup_steps(total), total=total))
stamps = []
step = 0
for batch in loader:
    nll, count, _ = token_loss(model, batch)
    loss = nll / count.clamp(min=1)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    step += 1
    stamps.append((step, time.perf_counter(), int(batch["attention_mask"].sum()), float(loss), time.process_time()))
    if step >= args["steps"]:
        break
window = [s for s in stamps if s[0] > args["skip"]]
start = [s for s in stamps if s[0] == args["skip"]][0]
print(json.dumps({"tokens": sum(s[2] for s in window), "seconds": window[-1][1] - start[1],
                  "cpu_seconds": window[-1][4] - start[4], "final_loss": window[-1][3],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def prepare(repo: Path, workspace: Path) -> dict:
    """Scrape and tokenize once; reused while the workspace has tokens."""
    if not (workspace / "tokens" / "meta.json").is_file():
        subprocess.run([PYTHON, "-m", "gitlm", "scrape", str(repo), "--out", str(workspace)], check=True, cwd=ROOT)
        code = ("import sys; from gitlm.config import GitlmConfig; from gitlm.workspace import Workspace; "
                "from gitlm.tokenize import tokenize_workspace; tokenize_workspace(Workspace(sys.argv[1]), GitlmConfig())")
        subprocess.run([PYTHON, "-c", code, str(workspace)], check=True, cwd=ROOT)
    return json.loads((workspace / "tokens" / "meta.json").read_text())


def run_side(code: str, args: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(args["threads"]))
    proc = subprocess.run([PYTHON, "-c", code, json.dumps(args)], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark side failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["tokens_per_second"] = result["tokens"] / result["seconds"]
    result["tokens_per_cpu_second"] = result["tokens"] / result["cpu_seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=HERE / ".work" / "pallets-flask.git")
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/gitlm-bench-train"))
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--skip", type=int, default=5, help="steps excluded from the window (startup, warm caches)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4)
    options = parser.parse_args()

    meta = prepare(options.repo, options.workspace)
    args = {"workspace": str(options.workspace), "model": options.model, "steps": options.steps, "skip": options.skip,
            "batch_size": options.batch_size, "threads": options.threads}
    runs: dict[str, list[dict]] = {"bare": [], "gitlm": []}
    for repeat in range(options.repeats):
        order = (("bare", BARE_SIDE), ("gitlm", GITLM_SIDE))
        for side, code in order if repeat % 2 == 0 else order[::-1]:  # alternate who goes first
            started = time.perf_counter()
            result = run_side(code, args)
            runs[side].append(result)
            print(f"[{repeat + 1}/{options.repeats}] {side:5s} {result['tokens_per_second']:8.0f} tok/s  "
                  f"{result['tokens_per_cpu_second']:8.0f} tok/cpu-s  "
                  f"rss {result['rss_mb']:6.0f} MB  loss {result['final_loss']:.3f}  ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr)

    def median(side: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[side])

    bare, ours = median("bare", "tokens_per_second"), median("gitlm", "tokens_per_second")
    bare_cpu, ours_cpu = median("bare", "tokens_per_cpu_second"), median("gitlm", "tokens_per_cpu_second")
    # Each repeat runs the two sides back to back, so the ratio within a pair shares most of
    # the machine's (shared, fluctuating) load; the median of those ratios is the headline.
    pair_ratios = [g["tokens_per_second"] / b["tokens_per_second"] for b, g in zip(runs["bare"], runs["gitlm"])]
    summary = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, no GPU",
        "repository": options.repo.name, "train_tokens": meta["splits"]["train"]["tokens"],
        "vocab_size": meta["vocab_size"], "sequence_length": meta["sequence_length"], **args,
        "bare_tokens_per_second": bare, "gitlm_tokens_per_second": ours, "ratio_of_medians": ours / bare,
        "median_pair_ratio": statistics.median(pair_ratios), "pair_ratios": pair_ratios,
        "bare_tokens_per_cpu_second": bare_cpu, "gitlm_tokens_per_cpu_second": ours_cpu, "cpu_ratio": ours_cpu / bare_cpu,
        "load_average_after": os.getloadavg(),
        "bare_rss_mb": median("bare", "rss_mb"), "gitlm_rss_mb": median("gitlm", "rss_mb"), "runs": runs,
    }
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / f"train-{options.model}-t{options.threads}.json").write_text(json.dumps(summary, indent=2))
    print(f"| {options.model} | {meta['sequence_length']} | {options.batch_size} | {options.threads} | "
          f"{bare:,.0f} | {ours:,.0f} | {summary['median_pair_ratio']:.2f}x | "
          f"{bare_cpu:,.0f} | {ours_cpu:,.0f} | {ours_cpu / bare_cpu:.2f}x | "
          f"{summary['bare_rss_mb']:,.0f} MB | {summary['gitlm_rss_mb']:,.0f} MB |")


if __name__ == "__main__":
    main()
