"""The report as one self-contained HTML file (plotly.js inlined, no network needed)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import jinja2
import markupsafe
import numpy as np

from . import hist
from .compare import Difference, compare_runs
from .figures import Figure, compare_figures, run_figures
from .runs import RunData


@functools.cache
def plotly_js() -> str:
    """plotly.min.js as shipped in the installed ``plotly`` package (no CDN)."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")


def template_loader() -> jinja2.BaseLoader:
    return jinja2.PackageLoader("galileo.analysis.report", "templates")


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=template_loader(), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    install_filters(env)
    return env


def install_filters(env: jinja2.Environment) -> None:
    """Number and time formatting shared by the report and the dashboard templates."""
    env.filters["ms"] = lambda v: "–" if v is None else f"{v:.3g}" if v < 10 else f"{v:.1f}"
    env.filters["pct"] = lambda v: "–" if v is None else f"{v * 100:.2f} %"
    env.filters["when"] = lambda ts: "–" if not ts else dt.datetime.fromtimestamp(
        ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    env.filters["secs"] = lambda s: "–" if s is None else f"{s:.1f} s"
    env.filters["tojson_fig"] = script_json


def script_json(value: Any) -> markupsafe.Markup:
    """JSON safe to embed in a ``<script>`` element (no ``</script>`` can end it early)."""
    text = json.dumps(value, separators=(",", ":"))
    return markupsafe.Markup(text.replace("<", "\\u003c").replace(">", "\\u003e")
                             .replace("&", "\\u0026"))


def _pct(h: np.ndarray, p: float) -> float | None:
    v = hist.percentile(h, p)
    return None if np.isnan(v) else v


def summary(run: RunData) -> dict[str, Any]:
    """The headline numbers of one run."""
    exp, h = run.experiment, run.total_hist
    start, end = (exp.start, exp.end) if exp is not None else (None, None)
    duration: float | None = (end - start) if start and end and end >= start else (
        float(run.seconds) if run.seconds else None)
    requests = run.requests
    return {
        "id": run.exp_id, "title": run.title, "name": exp.name if exp else "",
        "creator": exp.creator if exp else "", "status": exp.status.value if exp else "UNKNOWN",
        "message": (exp.status_message or "") if exp else "",
        "start": exp.start if exp else None, "duration_s": duration, "requests": requests,
        "errors": run.error_count, "error_rate": run.error_count / requests if requests else None,
        "rate": requests / run.seconds if run.seconds else None,
        "p50_ms": _pct(h, 50), "p95_ms": _pct(h, 95), "p99_ms": _pct(h, 99),
        "p999_ms": _pct(h, 99.9), "max_ms": _pct(h, 100),
        "verdicts": run.verdicts, "thresholds_passed": run.thresholds_passed,
    }


def run_context(run: RunData) -> dict[str, Any]:
    """What the run section of a report (or the dashboard's run page) shows."""
    return {"summary": summary(run), "figures": run_figures(run) if run.requests else [],
            "services": [{"name": s.service, "requests": int(s.sent.sum()),
                          "errors": int(s.errors.sum()),
                          "error_rate": (s.errors.sum() / s.sent.sum()) if s.sent.sum() else 0,
                          "p50_ms": _pct(s.total, 50), "p95_ms": _pct(s.total, 95),
                          "p99_ms": _pct(s.total, 99)} for s in run.services],
            "workers": run.workers.rows(), "hosts": run.hosts.rows(),
            "errors_by_kind": run.errors_by_kind, "events": run.events}


def comparison_context(runs: Sequence[RunData]) -> dict[str, Any]:
    """Overlay figures and, for every run after the first, its differences to the first."""
    base = runs[0]
    diffs: list[tuple[str, list[Difference]]] = [(r.exp_id, compare_runs(base, r))
                                                 for r in runs[1:]]
    return {"base": base.exp_id, "figures": compare_figures(runs), "diffs": diffs}


def render_report(runs: Sequence[RunData], *, title: str | None = None) -> str:
    """The HTML text of the report on ``runs`` (a comparison when there are several)."""
    figures: list[tuple[str, Figure]] = []
    ctx = {"title": title or ("Galileo report: " + ", ".join(r.title for r in runs)),
           "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
           "runs": [run_context(r) for r in runs],
           "comparison": comparison_context(runs) if len(runs) > 1 else None,
           "plotly_js": plotly_js(), "figures": figures}
    return _env().get_template("report.html.j2").render(ctx)
