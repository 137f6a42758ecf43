"""The report as one self-contained HTML file (plotly.js inlined, no network needed)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import jinja2
import markupsafe
import numpy as np

from galileo.analysis.counts import RequestCounts, run_outcome

from . import hist
from .compare import Difference, compare_runs
from .figures import PLOTLY_CONFIG, Figure, compare_figures, run_figures
from .runs import RunData

PLOTLY_FILE = "plotly-basic.min.js"


def plotly_path() -> Any:
    """plotly.js's *basic* bundle (scatter, bar; 1.2 MB instead of the full 4.8 MB), vendored
    from npm (``plotly.js-basic-dist-min``, MIT licence) at the version the ``plotly``
    package ships: every chart here is a line or a bar chart. Never a CDN."""
    return resources.files("galileo.analysis.report") / "static" / PLOTLY_FILE


@functools.cache
def plotly_js() -> str:
    text: str = plotly_path().read_text("utf-8")
    return text


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
    env.filters["count"] = lambda v: "–" if v is None else f"{int(v):,}"
    env.globals["plotly_config"] = PLOTLY_CONFIG


def script_json(value: Any) -> markupsafe.Markup:
    """JSON safe to embed in a ``<script>`` element (no ``</script>`` can end it early)."""
    text = json.dumps(value, separators=(",", ":"))
    return markupsafe.Markup(text.replace("<", "\\u003c").replace(">", "\\u003e")
                             .replace("&", "\\u0026"))


def _pct(h: np.ndarray, p: float) -> float | None:
    v = hist.percentile(h, p)
    return None if np.isnan(v) else v


def planned_requests(points: Sequence[tuple[float, float]], end_s: float) -> float:
    """Requests the target curve (breakpoints, linear between, held after) plans in
    ``[0, end_s]``."""
    total, pts = 0.0, [p for p in points if p[0] <= end_s]
    for (t0, r0), (t1, r1) in itertools.pairwise(pts):
        total += (t1 - t0) * (r0 + r1) / 2
    if pts:
        total += max(end_s - pts[-1][0], 0.0) * pts[-1][1]
    return total


def summary(run: RunData) -> dict[str, Any]:
    """The headline numbers of one run (counts as :mod:`galileo.analysis.counts` defines
    them; p99 exact from the traces, other percentiles ≈ from the histograms)."""
    exp, h = run.experiment, run.total_hist
    start, end = (exp.start, exp.end) if exp is not None else (None, None)
    duration: float | None = (end - start) if start and end and end >= start else (
        float(run.seconds) if run.seconds else None)
    counts = run.totals.get("counts") or RequestCounts(
        run.requests, run.requests - sum(int(s.unsent.sum()) for s in run.services
                                         if s.unsent is not None), run.error_count)
    status = exp.status.value if exp else "UNKNOWN"
    outcome = run_outcome(status, counts, run.thresholds_passed)
    planned = sum(planned_requests(s.target, run.seconds) for s in run.services if s.target)
    exact_p99 = run.totals.get("p99_ms")
    return {
        "id": run.exp_id, "title": run.title, "name": exp.name if exp else "",
        "creator": exp.creator if exp else "", "status": status,
        "shown_status": outcome.status, "failed_reason": outcome.reason,
        "message": (exp.status_message or "") if exp else "",
        "start": exp.start if exp else None, "duration_s": duration,
        "requests": counts.requests, "sent": counts.sent, "unsent": counts.unsent,
        "errors": counts.failed, "error_rate": counts.error_rate,
        "rate": counts.sent / run.seconds if run.seconds else None,
        "target_rate": planned / run.seconds if run.seconds and planned else None,
        "p50_ms": _pct(h, 50), "p95_ms": _pct(h, 95),
        "p99_ms": exact_p99 if exact_p99 is not None else _pct(h, 99),
        "p99_exact": exact_p99 is not None, "p99_approx_ms": _pct(h, 99),
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
