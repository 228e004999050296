"""Phase 7 of `gitlm run`: one page that says what the run made and where it is.

report/index.html (self-contained, no scripts) and report/run.json: the repository's
figures, every phase's status, time and one-line summary, the corpus and index sizes, and
the training figures with a link to the training report (report/report.html, written by
`gitlm train`) when a model was trained. MANIFEST.json's training_report is refreshed from
report/training_report.json so `jq '.training_report' MANIFEST.json` answers even after a
run that skipped training.
"""

from __future__ import annotations

import html
import json
from typing import Any

from gitlm.workspace import PhaseTimer, Workspace, fingerprint

INDEX = "report/index.html"
RUN_JSON = "report/run.json"
TRAINING_REPORT = "report/training_report.json"


def write_run_report(workspace: Workspace, results: dict[str, Any]) -> list[str]:
    """Write the run's report files; record the phase; return the files (workspace-relative).

    `results`: this run's PhaseResults by name; phases it did not select are reported as
    MANIFEST.json's phase_results last recorded them."""
    timer = PhaseTimer()
    manifest = workspace.read_manifest()
    phases = dict(manifest.get("phase_results") or {}) | {name: r.as_dict() for name, r in results.items()}
    training = _training_report(workspace)
    summary = {
        "repository": manifest.get("repository"),
        "repository_stats": manifest.get("repository_stats"),
        "analysis": manifest.get("analysis"),
        "training_parameters": manifest.get("training_parameters"),
        "phases": {name: {k: p.get(k) for k in ("status", "seconds", "summary", "reason", "error")}
                   for name, p in phases.items() if name != "report"},
        "training_report": training,
    }
    workspace.write_json(RUN_JSON, summary)
    with workspace.atomic_writer(INDEX, "w") as handle:
        handle.write(_html(summary, workspace))
    outputs = [INDEX, RUN_JSON]
    workspace.record_phase("report", {
        "status": "completed", **timer.finish(), "outputs": outputs,
        "fingerprint": fingerprint(summary["phases"], training), "error": None,
    }, training_report=training)
    return outputs


def _training_report(workspace: Workspace) -> dict[str, Any] | None:
    """The final figures of the last training, as MANIFEST.json's training_report holds them."""
    path = workspace.path(TRAINING_REPORT)
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return dict(report.get("final") or {}, global_step=(report.get("training") or {}).get("global_step"),
                model=(report.get("model") or {}).get("preset"), path=TRAINING_REPORT)


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in pairs)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _html(summary: dict[str, Any], workspace: Workspace) -> str:
    repo = summary.get("repository") or {}
    stats = summary.get("repository_stats") or {}
    phase_rows = "".join(
        f"<tr class='{html.escape(p.get('status') or '')}'><td>{html.escape(name)}</td><td>{html.escape(p.get('status') or '')}"
        f"{' (' + html.escape(p['reason']) + ')' if p.get('reason') else ''}</td><td>{_fmt(p.get('seconds'))}</td>"
        f"<td>{html.escape(p.get('error') or p.get('summary') or '')}</td></tr>"
        for name, p in summary["phases"].items())
    training = summary.get("training_report")
    if training:
        train_html = ("<table>" + _rows([(k, training.get(k)) for k in (
            "model", "global_step", "val_perplexity", "unigram_val_perplexity", "val_token_accuracy",
            "test_perplexity", "unigram_test_perplexity")]) + "</table>"
            "<p><a href='report.html'>Training report: curves, hardware, samples</a></p>")
    else:
        train_html = "<p>No model trained in this workspace yet (<code>gitlm run --train fresh</code>).</p>"
    parameters = summary.get("training_parameters") or {}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitlm run: {html.escape(str(repo.get('name', '')))}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}}
tr.failed td{{background:#fdd}}tr.skipped td{{color:#666}}</style></head><body>
<h1>gitlm run: {html.escape(str(repo.get('name', '')))}</h1>
<p>Repository <code>{html.escape(str(repo.get('path', '')))}</code>; workspace <code>{html.escape(str(workspace.root))}</code></p>
<h2>History</h2><table>{_rows([(k, stats.get(k)) for k in stats])}</table>
<h2>Phases</h2><table><tr><th>phase</th><th>status</th><th>seconds</th><th>summary</th></tr>{phase_rows}</table>
<h2>Training parameters</h2><table>{_rows([(k, v) for k, v in parameters.items() if not isinstance(v, dict)])}</table>
<h2>Model</h2>{train_html}
</body></html>
"""
