"""Benchmark `gitlm tokenize` against bare `tokenizers` encode_batch on the same texts, in one run.

    .venv/bin/python bench/tokens.py bench/.work/pallets-flask.git bench/.work/ipython-ipython.git \\
        [--work /tmp/gitlm-bench-tokenize] [--throughput-strategies semantic diff-aware] [--rss-strategy diff-aware]
        [--dedup-baseline OLD_DEDUP.py]    # e.g. from `git show 1331ce7:gitlm/privacy/dedup.py`

Each repository is scraped once into --work (skipped when its commits.jsonl is there). Then:

throughput (first repository, each strategy, one process): `tokenize_workspace` with the
  default repo-bpe tokenizer trains the BPE (its time is reported) and runs the encode pass;
  the pass is then run again with that trained tokenizer given as PATH, alternating with
  bare `tokenizers.Tokenizer.encode_batch` (and encode_batch_fast) over the same documents
  (those gitlm kept, rendered into a list beforehand), `--rounds` times after one warm-up
  round; the best and the median of each are compared (the machine is shared, so single
  runs are noisy). gitlm's figure is its whole encode pass (read commits.jsonl, render, encode,
  pack into tokens/*.bin, write the document index); bare is encode_batch alone on texts
  already in memory, 1,000 documents per call (as datasets.map(batched=True) would).
peak RSS (every repository, its own process per run): `gitlm tokenize` with the defaults
  (repo-bpe, near-duplicate removal on) and --rss-strategy; again with dedup off; and
  with the gpt2 tokenizer and dedup off (no training), which isolates the encode-and-pack
  pass. Peak RSS is the process's ru_maxrss.
near-duplicate rate (every repository, one process): documents/s of NearDuplicateFilter.is_duplicate
  alone (timed around each call) over the --rss-strategy documents, streamed; with
  --dedup-baseline, the same for that file's NearDuplicateFilter, rounds alternating.
Prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

THROUGHPUT = r"""
import json, shutil, sys, time
from pathlib import Path
import pyarrow.parquet as pq
from tokenizers import Tokenizer
from gitlm.config import load_config
from gitlm.schema import Commit, iter_jsonl
from gitlm.tokenize import render, tokenize_workspace
from gitlm.workspace import Workspace

source, strategy, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
work = Path(sys.argv[4])
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
shutil.copy(source / "commits.jsonl", work / "commits.jsonl")
shutil.copy(source / "MANIFEST.json", work / "MANIFEST.json")  # says the scrape redacted secrets
workspace = Workspace(work)
first = tokenize_workspace(workspace, load_config(None, {"tokenize": {"strategy": strategy}}))
trained = work.parent / (work.name + "-tokenizer")
shutil.rmtree(trained, ignore_errors=True)
shutil.copytree(work / "tokenizer", trained)
kept = set(pq.read_table(work / "tokens" / "documents.parquet", columns=["doc_id"]).column("doc_id").to_pylist())
texts = [d.text for d in render(strategy, iter_jsonl(work / "commits.jsonl", Commit)) if d.doc_id in kept]
bare = Tokenizer.from_file(str(trained / "tokenizer.json"))
again = load_config(None, {"tokenize": {"strategy": strategy, "tokenizer": str(trained)}})
tokenize_workspace(workspace, again)  # warm-up round (page cache, first-call costs), not counted
bare.encode_batch(texts[:1000], add_special_tokens=False)
ours, plain, fast = [], [], []
for _ in range(rounds):
    stats = tokenize_workspace(workspace, again)
    ours.append(stats.document_tokens / stats.encode_seconds)
    start = time.perf_counter()
    tokens = sum(len(e.ids) for i in range(0, len(texts), 1000) for e in bare.encode_batch(texts[i:i + 1000], add_special_tokens=False))
    plain.append(tokens / (time.perf_counter() - start))
    start = time.perf_counter()
    fast_tokens = sum(len(e.ids) for i in range(0, len(texts), 1000) for e in bare.encode_batch_fast(texts[i:i + 1000], add_special_tokens=False))
    fast.append(fast_tokens / (time.perf_counter() - start))
    assert tokens == fast_tokens == stats.document_tokens, (tokens, fast_tokens, stats.document_tokens)
print(json.dumps({"strategy": strategy, "documents": first.documents, "tokens": stats.document_tokens,
    "characters": sum(map(len, texts)), "vocab_size": first.vocab_size,
    "bpe_training_seconds": first.bpe_training_seconds, "bpe_training_characters": first.bpe_training_characters,
    "phase_seconds": json.loads((work / "MANIFEST.json").read_text())["phases"]["tokenize"]["seconds"],
    "gitlm": ours, "bare": plain, "bare_fast": fast,
    "near_duplicates_removed": first.near_duplicates_removed, "secret_redaction": first.secret_redaction}))
"""

PEAK = r"""
import json, resource, shutil, sys, time
from pathlib import Path
from gitlm.config import load_config
from gitlm.tokenize import tokenize_workspace
from gitlm.workspace import Workspace
source, strategy, tokenizer, dedup, work = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "on", Path(sys.argv[5])
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
(work / "commits.jsonl").symlink_to(source / "commits.jsonl")
shutil.copy(source / "MANIFEST.json", work / "MANIFEST.json")
start = time.perf_counter()
stats = tokenize_workspace(Workspace(work), load_config(None, {
    "tokenize": {"strategy": strategy, "tokenizer": tokenizer}, "privacy": {"dedup": dedup}}))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "tokens": stats.total_tokens, "secret_redaction": stats.secret_redaction, "documents": stats.documents,
    "documents_read": stats.documents_read, "bpe_training_seconds": stats.bpe_training_seconds,
    "encode_seconds": stats.encode_seconds, "characters": stats.characters,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DEDUP = r"""
import importlib.util, json, sys, time
from pathlib import Path
from gitlm.privacy.dedup import NearDuplicateFilter
from gitlm.schema import Commit, iter_jsonl
from gitlm.tokenize import render
source, strategy, rounds, baseline = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
filters = {"gitlm": NearDuplicateFilter}
if baseline:
    spec = importlib.util.spec_from_file_location("baseline_dedup", baseline)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    filters["baseline"] = module.NearDuplicateFilter
rates, kept = {name: [] for name in filters}, {}
for _ in range(rounds):
    for name, make in filters.items():
        dedup, seconds = make(), 0.0
        for document in render(strategy, iter_jsonl(source / "commits.jsonl", Commit)):
            start = time.perf_counter()
            dedup.is_duplicate(document.text, document.doc_id)
            seconds += time.perf_counter() - start
        rates[name].append(dedup.seen / seconds)
        kept[name] = dedup.kept
print(json.dumps({"documents": dedup.seen, "kept": kept, "rates": rates}))
"""


def run_python(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scraped(repo: Path, work: Path) -> Path:
    name = repo.name.removesuffix(".git")
    target = work / name
    if not (target / "commits.jsonl").is_file():
        subprocess.run([sys.executable, "-m", "gitlm", "scrape", str(repo), "--out", str(target)], check=True,
                       cwd=REPO_ROOT, capture_output=True)
    return target


def print_tables(throughput: list[dict], peaks: list[dict], rss_strategy: str, dedup: list[dict] = ()) -> None:
    tables = []
    if throughput:
        lines = ["| repository | strategy | documents | tokens | gitlm tokenize (encode pass) | bare encode_batch | gitlm / bare "
                 "| bare encode_batch_fast | gitlm / fast | BPE training | vocab |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in throughput:
            rounds = len(row["gitlm"])
            # Each round runs gitlm and bare back to back: the ratio within a round is the least
            # disturbed by other work on the machine, so the median of those ratios leads.
            paired = statistics.median(o / b for o, b in zip(row["gitlm"], row["bare"]))
            paired_fast = statistics.median(o / f for o, f in zip(row["gitlm"], row["bare_fast"]))
            for label, pick in (("median", statistics.median), ("best", max)):
                ours, plain, fast = pick(row["gitlm"]), pick(row["bare"]), pick(row["bare_fast"])
                ratio = f"{paired:.2f}x (rounds' median)" if label == "median" else f"{ours / plain:.2f}x"
                ratio_fast = f"{paired_fast:.2f}x" if label == "median" else f"{ours / fast:.2f}x"
                lines.append(f"| {row['repo']} | {row['strategy']} ({label} of {rounds}) | {row['documents']:,} | {row['tokens']:,} "
                             f"| {ours:,.0f} tok/s | {plain:,.0f} tok/s | {ratio} | {fast:,.0f} tok/s | {ratio_fast} "
                             f"| {row['bpe_training_seconds']:.1f} s on {row['bpe_training_characters'] / 1e6:.1f} M chars | {row['vocab_size']:,} |")
        tables.append(lines)
    if peaks:
        lines = ["| repository | strategy | tokenizer | near-dup removal | documents kept | tokens | wall | BPE training | peak RSS |",
                 "|---|---|---|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {row['repo']} | {rss_strategy} | {row['tokenizer']} | {row['dedup']} "
                  f"| {row['documents']:,} of {row['documents_read']:,} | {row['tokens']:,} | {row['seconds']:.0f} s "
                  f"| {row['bpe_training_seconds']:.1f} s | {row['rss_mb']:.0f} MB |" for row in peaks]
        tables.append(lines)
    if dedup:
        lines = ["| repository | strategy | documents | kept | near-duplicate filter | documents/s (median of rounds) | rounds |",
                 "|---|---|---:|---:|---|---:|---:|"]
        lines += [f"| {row['repo']} | {rss_strategy} | {row['documents']:,} | {row['kept'][name]:,} | {name} "
                  f"| {statistics.median(rates):,.0f} | {len(rates)} |" for row in dedup for name, rates in row["rates"].items()]
        tables.append(lines)
    print("\n\n".join("\n".join(lines) for lines in tables))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="*", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gitlm-bench-tokenize"))
    parser.add_argument("--throughput-strategies", nargs="+", default=["semantic", "diff-aware"])
    parser.add_argument("--rss-strategy", default="diff-aware")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-peaks", action="store_true", help="throughput only")
    parser.add_argument("--skip-throughput", action="store_true", help="peak RSS (and near-duplicate rate) only")
    parser.add_argument("--dedup-rounds", type=int, default=1, help="near-duplicate rate rounds (0: skip)")
    parser.add_argument("--dedup-baseline", type=Path, help="another dedup.py whose NearDuplicateFilter is timed alongside")
    parser.add_argument("--report", type=Path, help="print the tables of a saved --json file instead of running")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()

    if args.report:
        saved = json.loads(args.report.read_text())
        print_tables(saved["throughput"], saved["peaks"], saved.get("rss_strategy", args.rss_strategy), saved.get("dedup", []))
        return
    if not args.repos:
        parser.error("give one or more repositories (the first is used for throughput)")
    workspaces = [scraped(repo, args.work) for repo in args.repos]
    throughput = []
    for strategy in args.throughput_strategies if not args.skip_throughput else []:
        row = run_python(THROUGHPUT, str(workspaces[0]), strategy, str(args.rounds), str(args.work / f"throughput-{strategy}"))
        row["repo"] = workspaces[0].name
        throughput.append(row)
        print(f"throughput {strategy}: done", file=sys.stderr)
    peaks = []
    for workspace in workspaces if not args.skip_peaks else []:
        for tokenizer, dedup in (("repo-bpe", "on"), ("repo-bpe", "off"), ("gpt2", "off")):
            row = run_python(PEAK, str(workspace), args.rss_strategy, tokenizer, dedup, str(args.work / f"peak-{workspace.name}"))
            row.update(repo=workspace.name, tokenizer=tokenizer, dedup=dedup)
            peaks.append(row)
            print(f"peak {workspace.name} {tokenizer} dedup {dedup}: {row['rss_mb']:.0f} MB", file=sys.stderr)

    dedup = []
    for workspace in workspaces if args.dedup_rounds > 0 else []:
        row = run_python(DEDUP, str(workspace), args.rss_strategy, str(args.dedup_rounds), str(args.dedup_baseline or ""))
        row["repo"] = workspace.name
        dedup.append(row)
        print(f"dedup {workspace.name}: " + ", ".join(f"{k} {statistics.median(v):,.0f} docs/s" for k, v in row["rates"].items()), file=sys.stderr)

    print_tables(throughput, peaks, args.rss_strategy, dedup)
    if args.json:
        args.json.write_text(json.dumps({"throughput": throughput, "peaks": peaks, "rss_strategy": args.rss_strategy, "dedup": dedup},
                                        indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    main()
