"""Phase 0 of `gitlm run`: size up the repository and the machine before any work.

Counts the commits every phase will see (all branches, tags and HEAD, one `git rev-list
--count`), estimates the tokens, sequences and epochs the tokenizer will produce, and
detects the hardware training will use. The tokenize phase replaces the estimate with the
real count (MANIFEST.json's training_parameters).

Tokens per commit, the estimate's one input, were measured with the repo-bpe tokenizer on
pallets/flask (5,572 commits, BENCHMARKS.md "tokenize"): `semantic` 84, `diff-aware`
1,224. The other strategies are placed by what they hold: `hierarchical` is `semantic`
plus the ancestor subjects (x1.5), `flat` the patch text like `diff-aware` (x1.0), `chunks`
about 3.5 chunks of ~150 tokens per commit. Real histories vary by 2-3x around these: the
estimate sizes the plan, it does not replace the count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gitlm.config import GitlmConfig
from gitlm.scrape.git import Repository, run_git
from gitlm.scrape.refs import RefSnapshot
from gitlm.tokenize.runner import epochs_for

TOKENS_PER_COMMIT = {"semantic": 84, "hierarchical": 126, "diff-aware": 1224, "flat": 1224, "chunks": 525}


@dataclass
class Analysis:
    commits: int
    branches: int
    tags: int
    estimated_tokens: int
    estimated_sequences: int
    estimated_epochs: int
    tokens_per_commit: int
    hardware: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"estimate": "commits x tokens_per_commit for the strategy (gitlm/analyze.py)"}

    def plan_line(self) -> str:
        hw = self.hardware
        device = (f"{hw.get('gpu_count')} x {hw.get('gpu_name')} ({hw.get('gpu_memory_bytes', 0) / 2**30:.0f} GiB)"
                  if hw.get("gpu_count") else "CPU only")
        return (f"{self.commits:,} commits on {self.branches} branches, ~{self.estimated_tokens:,} tokens, "
                f"~{self.estimated_sequences:,} sequences, {self.estimated_epochs} epochs; "
                f"{hw.get('cpus')} CPUs, {hw.get('ram_bytes', 0) / 2**30:.0f} GiB RAM, {device}")


def count_commits(repo: Repository, refs: RefSnapshot) -> int:
    if not refs.starts:
        return 0
    out = run_git(repo.git_dir, "rev-list", "--count", *refs.starts)
    return int(out.strip() or 0)


def analyze(repo: Repository, refs: RefSnapshot, config: GitlmConfig) -> Analysis:
    from gitlm.train.hardware import detect_hardware  # imports torch: only when analysing

    tok = config.tokenize
    commits = count_commits(repo, refs)
    per_commit = TOKENS_PER_COMMIT.get(tok.strategy, TOKENS_PER_COMMIT["semantic"])
    tokens = commits * (per_commit + 1)  # + the end-of-document id
    stride = max(1, tok.sequence_length - tok.overlap)
    return Analysis(
        commits=commits,
        branches=len(refs.branches),
        tags=refs.tag_count,
        estimated_tokens=tokens,
        estimated_sequences=-(-tokens // stride) if tokens else 0,
        estimated_epochs=epochs_for(tokens, tok.target_tokens, tok.min_epochs, tok.max_epochs),
        tokens_per_commit=per_commit,
        hardware=detect_hardware().as_dict(),
    )
