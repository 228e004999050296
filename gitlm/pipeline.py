"""`gitlm run`: every phase in order, skipped when its inputs did not change.

Phases: 0 analyze, 1 scrape, 2 chunk, 3 tokenize, 4 dataset, 5 embed, 6 train, 7 report.
Each phase's *input key* is a fingerprint of what its output depends on: the repository's
ref tips (analyze, scrape), the fingerprints the phases it reads recorded in MANIFEST.json,
its config sections and the training mode. A phase is skipped when its key equals the one
recorded after it last ran, the stage's own record in `phases` is still the one that run
wrote (a `gitlm chunk --max-tokens 9` by hand in between makes it run again) and its outputs
exist. Otherwise it runs, and scrape, chunk and embed do only the new work (see their
modules); tokenize and dataset are rebuilt from their inputs; train starts afresh, or with
`--train continue` from the workspace's model with the tokenizer kept.

Failures: without `continue_on_error` the first failing phase stops the run (GitlmError,
exit 1) after MANIFEST.json records it; with it, the failure is recorded and the phases
that need that phase's output this run are skipped, the others still run.

MANIFEST.json keeps, besides each stage's `phases` entry: execution_timestamp,
total_execution_time_seconds, repository_stats, analysis, training_parameters,
phase_results (status, seconds, summary, outputs, stats, error, fingerprints),
training_report and versions.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gitlm.config import GitlmConfig
from gitlm.errors import BadInputError, GitlmError
from gitlm.scrape.git import Repository, open_repository
from gitlm.scrape.refs import RefSnapshot, read_refs
from gitlm.scrape.workspace_writer import default_workspace, phase_config_of
from gitlm.workspace import MANIFEST, Workspace, fingerprint, library_versions, utc_now

PHASES = ("analyze", "scrape", "chunk", "tokenize", "dataset", "embed", "train", "report")
TRAIN_MODES = ("fresh", "continue", "skip")


def needs(phase: str, config: GitlmConfig) -> tuple[str, ...]:
    """The phases whose output this phase reads (a failure there skips this one)."""
    chunk_input = ("chunk",) if config.tokenize.strategy == "chunks" else ()
    return {
        "analyze": (), "scrape": (), "chunk": ("scrape",), "tokenize": ("scrape", *chunk_input),
        "dataset": ("tokenize",), "embed": ("scrape", "chunk"), "train": ("tokenize", "dataset"), "report": (),
    }[phase]


def select_phases(only: list[str] | None, skip: list[str] | None) -> list[str]:
    """PHASES filtered by --only / --skip (comma-separated names allowed); unknown names fail."""
    def parse(values: list[str] | None) -> list[str]:
        names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
        unknown = [n for n in names if n not in PHASES]
        if unknown:
            raise BadInputError(f"unknown phase {unknown[0]!r}; phases are {', '.join(PHASES)}")
        return names

    chosen, dropped = parse(only), parse(skip)
    return [p for p in PHASES if (not chosen or p in chosen) and p not in dropped]


@dataclass
class PhaseResult:
    phase: str
    status: str = "pending"  # completed | skipped | failed
    seconds: float = 0.0
    summary: str = ""  # the one-line summary printed after the phase
    reason: str | None = None  # why it was skipped
    outputs: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    input_fingerprint: str | None = None
    output_fingerprint: str | None = None  # the stage's own fingerprint after this run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Observer(Protocol):
    """What the command line shows; tests and library callers may pass None."""

    def phase_started(self, phase: str, unit: str) -> None: ...
    def phase_progress(self, completed: int, total: int | None) -> None: ...
    def phase_finished(self, result: PhaseResult) -> None: ...
    def note(self, line: str) -> None: ...


class _Quiet:
    def phase_started(self, phase: str, unit: str) -> None: pass
    def phase_progress(self, completed: int, total: int | None) -> None: pass
    def phase_finished(self, result: PhaseResult) -> None: pass
    def note(self, line: str) -> None: pass


@dataclass
class RunResult:
    workspace: Workspace
    phases: list[PhaseResult]
    seconds: float

    @property
    def failed(self) -> list[PhaseResult]:
        return [p for p in self.phases if p.status == "failed"]


class Pipeline:
    """One `gitlm run` over one repository (see the module docstring)."""

    def __init__(self, repo: Path | str, config: GitlmConfig | None = None, *, only: list[str] | None = None,
                 skip: list[str] | None = None, continue_on_error: bool = False, train_mode: str = "fresh",
                 observer: Observer | None = None) -> None:
        if train_mode not in TRAIN_MODES:
            raise BadInputError(f"--train must be one of {', '.join(TRAIN_MODES)}, not {train_mode!r}")
        self.config = config or GitlmConfig()
        self.repo: Repository = open_repository(repo)
        self.workspace = Workspace(self.config.out or default_workspace(self.repo))
        self.selected = select_phases(only, skip)
        self.continue_on_error = continue_on_error
        self.train_mode = train_mode
        self.ui = observer or _Quiet()
        self.refs: RefSnapshot | None = None
        self.results: dict[str, PhaseResult] = {}

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> RunResult:
        started, started_at = time.perf_counter(), utc_now()
        with self.workspace.lock():
            manifest = self.workspace.read_manifest()  # corrupt: stop before anything is replaced
            previous = manifest.get("phase_results") or {}
            self.refs = read_refs(self.repo, self.config.scrape.branches)
            if not self.refs.starts:
                raise BadInputError(f"{self.repo.path} has no commits yet (no branch, tag or HEAD points at one); nothing to run")
            for phase in self.selected:
                result = self._phase(phase, previous.get(phase) or {})
                self.results[phase] = result
                self._record(started, started_at)
                self.ui.phase_finished(result)
                if result.status == "failed" and not self.continue_on_error:
                    raise GitlmError(f"phase {phase} failed: {result.error}")
            self._record(started, started_at)
        return RunResult(self.workspace, list(self.results.values()), round(time.perf_counter() - started, 3))

    def _phase(self, phase: str, previous: dict[str, Any]) -> PhaseResult:
        result = PhaseResult(phase)
        blocked = [p for p in needs(phase, self.config) if p in self.results and _did_not_run(self.results[p])]
        if blocked:
            result.status, result.reason = "skipped", f"needs {blocked[0]}, which failed"
            return result
        if phase == "train" and self.train_mode == "skip":
            # the model is left alone: keep what the last training recorded, so a later
            # `--train fresh` on unchanged data still finds it up to date
            result.status, result.reason = "skipped", "--train skip"
            for name in ("summary", "outputs", "stats", "input_fingerprint", "output_fingerprint"):
                if previous.get(name) is not None:
                    setattr(result, name, previous[name])
            return result
        key = self._input_key(phase)
        result.input_fingerprint = key
        if self._unchanged(phase, key, previous):
            result.status, result.reason = "skipped", "unchanged"
            result.summary, result.outputs = previous.get("summary", ""), previous.get("outputs", [])
            result.stats, result.output_fingerprint = previous.get("stats", {}), previous.get("output_fingerprint")
            return result
        self.ui.phase_started(phase, _UNITS.get(phase, ""))
        clock = time.perf_counter()
        try:
            summary, stats = getattr(self, f"_run_{phase}")()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a phase's failure is recorded, not a traceback
            result.status, result.error = "failed", _one_line(exc)
            result.seconds = round(time.perf_counter() - clock, 3)
            return result
        result.status, result.summary, result.stats = "completed", summary, stats
        result.seconds = round(time.perf_counter() - clock, 3)
        stage = self.workspace.read_manifest()["phases"].get(phase) or {}
        result.outputs = list(stage.get("outputs") or [])
        result.output_fingerprint = stage.get("fingerprint")
        return result

    def _unchanged(self, phase: str, key: str, previous: dict[str, Any]) -> bool:
        if previous.get("status") not in ("completed", "skipped") or previous.get("input_fingerprint") != key:
            return False
        stage = self.workspace.read_manifest()["phases"].get(phase) or {}
        if stage.get("fingerprint") != previous.get("output_fingerprint"):
            return False  # the stage ran since, by hand, with other settings
        return all(self.workspace.path(name.rstrip("/")).exists() for name in previous.get("outputs") or [])

    def _input_key(self, phase: str) -> str:
        config = self.config
        stages = self.workspace.read_manifest()["phases"]
        upstream = {name: (stages.get(name) or {}).get("fingerprint") for name in needs(phase, config)}
        sections: dict[str, Any] = {
            "analyze": (self.refs.ref_tips, config.tokenize.model_dump(mode="json")),
            "scrape": (self.refs.ref_tips, phase_config_of(config)),
            "chunk": (config.chunk.model_dump(mode="json"), config.privacy.redact_secrets),
            "tokenize": (config.tokenize.model_dump(mode="json"), config.privacy.model_dump(mode="json"),
                         self.train_mode == "continue"),
            "dataset": config.dataset.model_dump(mode="json"),
            "embed": (config.embed.model_dump(mode="json"),
                      config.index.model_dump(mode="json", exclude={"qdrant_api_key"})),
            "train": (config.train.model_dump(mode="json"), self.train_mode),
            "report": {name: (stages.get(name) or {}).get("fingerprint") for name in PHASES if name != "report"},
        }
        return fingerprint(phase, upstream, sections[phase], library_versions()["gitlm"])

    # -- manifest ------------------------------------------------------------------------------

    def _record(self, started: float, started_at: str) -> None:
        manifest = self.workspace.read_manifest()
        results = dict(manifest.get("phase_results") or {})
        results.update({name: result.as_dict() for name, result in self.results.items()})
        scrape = (manifest["phases"].get("scrape") or {}).get("stats") or {}
        self.workspace.update_manifest(
            execution_timestamp=started_at,
            total_execution_time_seconds=round(time.perf_counter() - started, 3),
            repository_stats=_repository_stats(scrape, manifest.get("analysis") or {}),
            phase_results={name: results[name] for name in PHASES if name in results},
            versions=dict(manifest.get("versions") or {}) | library_versions("msgspec", "pydantic", "typer"),
        )

    # -- phases --------------------------------------------------------------------------------

    def _run_analyze(self) -> tuple[str, dict[str, Any]]:
        from gitlm.analyze import analyze

        analysis = analyze(self.repo, self.refs, self.config)
        self.workspace.update_manifest(analysis=analysis.as_dict())
        self.workspace.record_phase("analyze", {"status": "completed", "outputs": [MANIFEST],
                                                "fingerprint": fingerprint(self.refs.ref_tips, analysis.as_dict()),
                                                "stats": analysis.as_dict(), "error": None})
        steps = ", ".join(f"train ({self.train_mode})" if p == "train" else p for p in self.selected if p != "analyze")
        return f"{analysis.plan_line()}; then {steps or 'nothing'}", analysis.as_dict()

    def _run_scrape(self) -> tuple[str, dict[str, Any]]:
        from gitlm.scrape import scrape_to_workspace

        counter = _Counter(self.ui)
        config = self.config.model_copy(update={"out": self.workspace.root})
        _, stats = scrape_to_workspace(self.repo.path, config, incremental=True, on_start=counter.start,
                                       on_commit=counter.tick)
        phase = self.workspace.read_manifest()["phases"]["scrape"]
        how = (f"{phase['commits_scraped']:,} new, {phase['commits_kept']:,} kept" if phase["mode"] == "incremental"
               else f"{stats.total_commits:,} scraped")
        figures = stats.as_dict()
        return (f"{stats.total_commits:,} commits ({how}), {figures['unique_authors']:,} authors, "
                f"+{stats.insertions:,}/-{stats.deletions:,} lines, {stats.secrets_redacted:,} secrets redacted",
                {k: figures[k] for k in ("total_commits", "merges", "unique_authors", "files_touched", "secrets_redacted")}
                | {"mode": phase["mode"], "commits_scraped": phase["commits_scraped"]})

    def _run_chunk(self) -> tuple[str, dict[str, Any]]:
        from gitlm.chunk import chunk_workspace

        counter = _Counter(self.ui)
        stats = chunk_workspace(self.workspace, self.config, repo=self.repo.path, incremental=True,
                                on_start=counter.start, on_commit=counter.tick)
        phase = self.workspace.read_manifest()["phases"]["chunk"]
        figures = stats.as_dict()
        how = (f"{stats.chunks:,} from {stats.commits:,} new commits, {phase['commits_kept']:,} kept"
               if phase["mode"] == "incremental" else f"{figures['expansion_factor']} per commit")
        return (f"{phase['total_chunks']:,} chunks from {phase['commits_covered']:,} commits ({how})",
                {k: figures[k] for k in ("chunks", "commits", "commits_with_chunks", "expansion_factor")}
                | {"mode": phase["mode"], "total_chunks": phase["total_chunks"]})

    def _run_tokenize(self) -> tuple[str, dict[str, Any]]:
        from gitlm.tokenize import tokenize_workspace

        def progress(stage: str, done: int, total: int | None) -> None:
            self.ui.phase_progress(done, total)

        stats = tokenize_workspace(self.workspace, self.config, progress=progress,
                                   reuse_tokenizer=self.train_mode == "continue")
        kept = "kept" if stats.tokenizer_reused else f"{stats.vocab_size:,} ids"
        return (f"{stats.total_tokens:,} tokens in {stats.sequences:,} sequences of {stats.sequence_length} "
                f"({stats.documents:,} documents, tokenizer {stats.tokenizer} {kept}); {stats.epochs} epochs",
                {"total_tokens": stats.total_tokens, "sequences": stats.sequences, "documents": stats.documents,
                 "vocab_size": stats.vocab_size, "tokenizer_reused": stats.tokenizer_reused, "epochs": stats.epochs})

    def _run_dataset(self) -> tuple[str, dict[str, Any]]:
        from gitlm.dataset import build_dataset

        stats = build_dataset(self.workspace, self.config)
        rows = {name: split["examples"] for name, split in stats.splits.items()}
        return (f"{stats.examples:,} context/target windows (" + ", ".join(f"{n} {v:,}" for n, v in rows.items()) + ")",
                {"examples": stats.examples, "examples_per_split": rows})

    def _run_embed(self) -> tuple[str, dict[str, Any]]:
        from gitlm.embed import embed_workspace

        totals: dict[str, int] = {}
        done: dict[str, int] = {}

        def on_total(kind: str, total: int) -> None:
            totals[kind] = total
            self.ui.phase_progress(sum(done.values()), sum(totals.values()))

        def on_progress(kind: str, n: int) -> None:
            done[kind] = done.get(kind, 0) + n
            self.ui.phase_progress(sum(done.values()), sum(totals.values()))

        stats = embed_workspace(self.workspace, self.config, on_total=on_total, on_progress=on_progress)
        return (f"{stats.commits.indexed_points:,} commits and {stats.chunks.indexed_points:,} chunks indexed "
                f"({stats.encoded:,} encoded, {stats.commits.removed + stats.chunks.removed:,} removed) with {stats.model}",
                {"commits": stats.commits.indexed_points, "chunks": stats.chunks.indexed_points,
                 "encoded": stats.encoded})

    def _run_train(self) -> tuple[str, dict[str, Any]]:
        from gitlm.train import train

        config, base = self.config, None
        model_dir = self.workspace.path("model")
        if self.train_mode == "continue":
            if (model_dir / "config.json").is_file():
                base = self.workspace.path(".model-base")  # training replaces model/ while it reads the weights
                shutil.rmtree(base, ignore_errors=True)
                shutil.copytree(model_dir, base)
                config = config.model_copy(update={"train": config.train.model_copy(update={"model": str(base)})})
                self.ui.note(f"continuing from {model_dir} (tokenizer kept)")
            else:
                self.ui.note(f"no model in {model_dir} yet: training from scratch")
        try:
            result = train(self.workspace, config, on_step=lambda r: self.ui.phase_progress(r["step"], r["total_steps"]),
                           on_status=self.ui.note)
        finally:
            if base is not None:
                shutil.rmtree(base, ignore_errors=True)
        final, training = result.report["final"], result.report["training"]
        return (f"{training['global_step']:,} steps, val perplexity {_num(final['val_perplexity'])} "
                f"(unigram {_num(final['unigram_val_perplexity'])}), {_num(training['tokens_per_second'])} tokens/s",
                {"global_step": training["global_step"], "val_perplexity": final["val_perplexity"],
                 "test_perplexity": final["test_perplexity"], "stopped_because": training["stopped_because"]})

    def _run_report(self) -> tuple[str, dict[str, Any]]:
        from gitlm.report import write_run_report

        outputs = write_run_report(self.workspace, self.results)
        return f"report -> {self.workspace.path(outputs[0])}", {"files": outputs}


_UNITS = {"scrape": "commits", "chunk": "commits", "tokenize": "documents", "embed": "texts", "train": "steps"}


class _Counter:
    """on_start/on_commit callbacks feeding the observer's progress."""

    def __init__(self, ui: Observer):
        self.ui, self.n, self.total = ui, 0, None

    def start(self, total: int | None) -> None:
        self.total = total
        self.ui.phase_progress(0, total)

    def tick(self) -> None:
        self.n += 1
        if self.n % 128 == 0:
            self.ui.phase_progress(self.n, self.total)


def _did_not_run(result: PhaseResult) -> bool:
    """Failed, or skipped because something it needed failed: its output is not this run's."""
    return result.status == "failed" or (result.status == "skipped" and (result.reason or "").startswith("needs "))


def _repository_stats(scrape: dict[str, Any], analysis: dict[str, Any]) -> dict[str, Any]:
    keys = ("total_commits", "merges", "merge_percentage", "unique_authors", "branches", "tags", "files_touched",
            "insertions", "deletions", "first_commit_date", "last_commit_date", "span_days", "commits_per_day")
    stats = {k: scrape[k] for k in keys if k in scrape}
    if not stats and analysis:
        stats = {"total_commits": analysis.get("commits"), "branches": analysis.get("branches"), "tags": analysis.get("tags")}
    return stats


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


def _one_line(exc: BaseException) -> str:
    """The failure as the phase's error line: gitlm's own message, else the exception's first line."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    return first if isinstance(exc, GitlmError) else f"{type(exc).__name__}: {first}"
