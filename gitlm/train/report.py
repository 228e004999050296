"""report/: training_report.json, PNG plots of loss, learning rate and gradient norm, and a
self-contained report.html that shows them with the key numbers and the generated samples."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from gitlm.workspace import Workspace

REPORT_DIR = "report"
PLOTS = {"loss": "loss.png", "lr": "learning_rate.png", "grad_norm": "grad_norm.png"}


def write_report(workspace: Workspace, report: dict[str, Any]) -> list[str]:
    """Write every report file atomically; return their workspace-relative names."""
    written = []
    images: dict[str, bytes] = {}
    for key, figure in _figures(report).items():
        name = f"{REPORT_DIR}/{PLOTS[key]}"
        with workspace.atomic_writer(name) as out:
            out.write(figure)
        images[key] = figure
        written.append(name)
    report["report_files"] = [*written, f"{REPORT_DIR}/training_report.json", f"{REPORT_DIR}/report.html"]
    workspace.write_json(f"{REPORT_DIR}/training_report.json", report)
    with workspace.atomic_writer(f"{REPORT_DIR}/report.html", "w") as out:
        out.write(_html(report, images))
    return report["report_files"]


def _figures(report: dict[str, Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = report["history"]["steps"]
    if not steps:
        return {}
    x = [s["step"] for s in steps]
    out = {}

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(x, [s["loss"] for s in steps], lw=0.8, alpha=0.45, label="train (per step)")
    smooth = _ema([s["loss"] for s in steps])
    ax.plot(x, smooth, lw=1.6, label="train (EMA)")
    vals = report["history"]["validations"]
    if vals:
        ax.plot([v["step"] for v in vals], [v["loss"] for v in vals], "o-", lw=1.6, label="validation")
    baseline = (report.get("evaluation", {}).get("val") or {}).get("unigram_perplexity")
    if baseline:
        import math

        ax.axhline(math.log(baseline), ls="--", lw=1, color="grey", label="unigram baseline (val)")
    ax.set(xlabel="optimizer step", ylabel="cross-entropy (nats/token)", title="Loss")
    ax.grid(alpha=0.3)
    ax.legend()
    out["loss"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=110)
    ax.plot(x, [s["lr"] for s in steps], lw=1.4)
    ax.set(xlabel="optimizer step", ylabel="learning rate", title="Learning rate (warmup, cosine decay)")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    out["lr"] = _png(fig, plt)

    norms = [(s["step"], s["grad_norm"]) for s in steps if s["grad_norm"] is not None]
    if norms:
        fig, ax = plt.subplots(figsize=(8, 3.5), dpi=110)
        ax.plot([n[0] for n in norms], [n[1] for n in norms], lw=0.9)
        ax.axhline(report["config"]["grad_clip"], ls="--", lw=1, color="grey", label="clip threshold")
        ax.set(xlabel="optimizer step", ylabel="global L2 norm (before clipping)", title="Gradient norm")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        out["grad_norm"] = _png(fig, plt)
    return out


def _ema(values: list[float], alpha: float = 0.1) -> list[float]:
    smoothed, current = [], None
    for v in values:
        current = v if current is None else alpha * v + (1 - alpha) * current
        smoothed.append(current)
    return smoothed


def _png(fig, plt) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _html(report: dict[str, Any], images: dict[str, bytes]) -> str:
    e = html.escape
    ev = report.get("evaluation", {})
    final = report["final"]
    hw = report["hardware"]["peaks"]
    rows = [
        ("model", f"{report['model']['preset']} ({report['model']['architecture']}, {_fmt(report['model']['parameters'])} parameters, {_fmt(report['model']['trainable_parameters'])} trained)"),
        ("data", f"{report['data']['source']}: {_fmt(report['data']['train_examples'])} train / {_fmt(report['data']['val_examples'])} val / {_fmt(report['data']['test_examples'])} test examples of {report['data']['sequence_length']} tokens"),
        ("steps / epochs", f"{_fmt(report['training']['global_step'])} steps, {report['training']['epochs_completed']} of {report['training']['epochs']} epochs ({e(report['training']['stopped_because'])})"),
        ("final train loss", _fmt(final["train_loss"])),
        ("val loss / perplexity / token accuracy", f"{_fmt(final['val_loss'])} / {_fmt(final['val_perplexity'])} / {_fmt(final['val_token_accuracy'])}"),
        ("test loss / perplexity / token accuracy", f"{_fmt(final['test_loss'])} / {_fmt(final['test_perplexity'])} / {_fmt(final['test_token_accuracy'])}"),
        ("unigram baseline perplexity (val / test)", f"{_fmt((ev.get('val') or {}).get('unigram_perplexity'))} / {_fmt((ev.get('test') or {}).get('unigram_perplexity'))}"),
        ("tokens/s (training)", _fmt(report["training"]["tokens_per_second"])),
        ("learning rate (peak, min .. max)", f"{_fmt(report['config']['learning_rate'])}, {_fmt(report['learning_rate']['min'])} .. {_fmt(report['learning_rate']['max'])}"),
        ("gradient norm (min .. max)", f"{_fmt(report['grad_norm']['min'])} .. {_fmt(report['grad_norm']['max'])}"),
        ("peak RAM % / RSS / CPU %", f"{_fmt(hw['ram_percent_max'])} % / {hw['rss_bytes_max'] / 2**30:.2f} GiB / {_fmt(hw['cpu_percent_max'])} %"),
        ("peak GPU memory / temperature", f"{_fmt(hw['gpu_memory_bytes_max'])} B / {_fmt(hw['gpu_temperature_c_max'])} °C" if hw.get("gpu_memory_bytes_max") is not None else "no GPU readings"),
        ("device", (f"{report['hardware']['accelerator']}, {report['hardware']['precision']}, {report['config']['batch_size']} x {report['config']['gradient_accumulation']} per step, {report['hardware']['threads']} threads")),
    ]
    table = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    pictures = "\n".join(
        f'<figure><img alt="{key}" src="data:image/png;base64,{base64.b64encode(data).decode()}"></figure>'
        for key, data in images.items()
    )
    samples = "\n".join(
        f"<div class='sample'><pre><b>{e(s['prompt'])}</b>{e(s['completion'])}</pre></div>" for s in report.get("samples", [])
    ) or "<p>No samples.</p>"
    notes = "".join(f"<li>{e(n)}</li>" for n in report.get("notes", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitlm training report: {e(report['repository'] or '')}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ text-align: left; padding: .3rem .8rem; border-bottom: 1px solid #ddd; }}
th {{ font-weight: 600; white-space: nowrap; }} img {{ max-width: 100%; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: .6rem; }} .sample b {{ color: #06c; }}
</style></head><body>
<h1>Training report</h1>
<p>{e(report['repository'] or '')} — finished {e(report['finished_at'])}; full figures in <code>training_report.json</code>.</p>
<table>{table}</table>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Curves</h2>
{pictures}
<h2>Samples</h2>
<p>Prompts (bold) are the beginnings of held-out documents; the rest is generated.</p>
{samples}
</body></html>
"""

