"""Training inputs for tests, built exactly as the tokenizer's contract describes them:
<ws>/tokenizer/ (a Hugging Face fast tokenizer with eos and pad), <ws>/tokens/{train,val,test}.bin
(flat uint16 memmaps, documents in chronological order, eos between documents, a temporal
split at document boundaries) and <ws>/tokens/meta.json.

The documents are rendered from a real scraped fixture repository in the `semantic` style
(`<COMMIT> hash <AUTHOR> ... <MESSAGE> ... <FILE_MOD> n ... <DIFF> patch`), so the train tests
do not depend on the tokenizer stage being finished.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

EOS = "<|endoftext|>"
PAD = "<|pad|>"
MARKERS = ["<COMMIT>", "<AUTHOR>", "<DATE>", "<MESSAGE>", "<FILE_ADD>", "<FILE_MOD>", "<FILE_DEL>",
           "<INSERTIONS>", "<DELETIONS>", "<DIFF>"]


def fill_repo(repo, commits: int = 36) -> None:
    """A small, regular history: functions added to and changed in a few modules."""
    modules = ["parser", "lexer", "render", "cache"]
    bodies: dict[str, list[str]] = {m: [] for m in modules}
    for i in range(commits):
        module = modules[i % len(modules)]
        if i % 5 == 4 and bodies[module]:
            bodies[module][-1] = bodies[module][-1].replace("return x", "return x * 2")
            message = f"fix: double the {module} result in step {i}"
        else:
            bodies[module].append(f"def {module}_{i}(x):\n    \"\"\"Handle case {i}.\"\"\"\n    return x + {i}\n")
            message = f"feat({module}): add {module}_{i}"
        repo.write(f"src/{module}.py", "\n".join(bodies[module]))
        repo.commit(message)


def render(commit) -> str:
    """One commit as a `semantic`-style document (the markers as in the tokenizer issue)."""
    files = " ".join(f.path for f in commit.files)
    patches = "".join(f.patch or "" for f in commit.files)
    return (
        f"<COMMIT> {commit.abbrev_hash} <AUTHOR> {commit.author_name} <DATE> {commit.author_date[:10]} "
        f"<MESSAGE> {commit.message_subject} <FILE_ADD> {len(commit.files_added)} <FILE_MOD> {len(commit.files_modified)} "
        f"<FILE_DEL> {len(commit.files_deleted)} <INSERTIONS> {commit.insertions} <DELETIONS> {commit.deletions} "
        f"{files} <DIFF> {patches}"
    )


def train_tokenizer(texts: list[str], vocab_size: int = 600, markers: list[str] | None = None, pad: str | None = PAD):
    """A byte-level BPE as a Hugging Face fast tokenizer: eos (and pad) plus `markers`
    (gitlm's structural markers by default) as special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    markers = MARKERS if markers is None else markers
    specials = [EOS, *([pad] if pad else []), *markers]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(texts, trainer)
    extra = {"pad_token": pad} if pad else {}
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS, additional_special_tokens=markers, **extra)


def write_tokens(ws: Path, tokenizer, documents: list[tuple[str, int]], *, sequence_length: int = 64,
                 overlap: int = 8, shares: tuple[float, float] = (0.8, 0.1)) -> dict:
    """Encode documents (text, timestamp) in order, split them temporally by document count,
    and write the memmaps and meta.json the contract specifies."""
    tokens_dir = ws / "tokens"
    tokens_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(ws / "tokenizer")
    n = len(documents)
    cut_train = max(1, round(n * shares[0]))
    cut_val = min(n, cut_train + round(n * shares[1]))
    ranges = {"train": documents[:cut_train], "val": documents[cut_train:cut_val], "test": documents[cut_val:]}
    eos = tokenizer.eos_token_id
    stride = sequence_length - overlap
    splits = {}
    for split, docs in ranges.items():
        ids: list[int] = []
        for i, (text, _) in enumerate(docs):
            if i:
                ids.append(eos)
            ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        np.asarray(ids, dtype=np.uint16).tofile(tokens_dir / f"{split}.bin")
        count = len(ids)
        splits[split] = {
            "file": f"{split}.bin", "tokens": count,
            "sequences": max(1, math.ceil((count - overlap) / stride)) if count else 0,
            "documents": len(docs),
            "first_timestamp": docs[0][1] if docs else None, "last_timestamp": docs[-1][1] if docs else None,
        }
    meta = {
        "dtype": "uint16", "vocab_size": len(tokenizer), "eos_token_id": eos, "pad_token_id": tokenizer.pad_token_id,
        "sequence_length": sequence_length, "overlap": overlap, "stride": stride, "strategy": "semantic",
        "tokenizer": "tokenizer", "total_tokens": sum(s["tokens"] for s in splits.values()), "splits": splits,
    }
    (tokens_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def build_workspace(repo, ws: Path, **token_options) -> dict:
    """Scrape `repo` into `ws` with gitlm, then write tokenizer/ and tokens/ from its commits."""
    from gitlm.config import GitlmConfig
    from gitlm.schema import Commit, iter_jsonl
    from gitlm.scrape import scrape_to_workspace

    scrape_to_workspace(repo.path, GitlmConfig(out=ws))
    commits = list(iter_jsonl(ws / "commits.jsonl", Commit))
    documents = [(render(c), c.committer_timestamp) for c in commits]
    tokenizer = train_tokenizer([d for d, _ in documents])
    return write_tokens(ws, tokenizer, documents, **token_options)
