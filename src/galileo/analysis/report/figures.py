"""Plotly figure specs (plain dicts, rendered by plotly.js) for one run or several runs.

The same specs feed the HTML report and the dashboard; :mod:`.png` draws the same content with
matplotlib for papers. Times are seconds since the run's first intended send.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from . import hist
from .runs import PERCENTILES, RunData

Figure = dict[str, Any]
COLOURS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                  "#7f7f7f", "#bcbd22", "#17becf")
MAX_ANNOTATIONS: Final = 40
# the percentile spectrum's x positions: 0 %, 90 %, 99 %, 99.9 %, ... on a log(1/(1-p)) axis
SPECTRUM_PCTS: Final = np.concatenate([np.linspace(0, 90, 19), 100 - np.logspace(1, -3, 41)[1:]])


def layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "font": {"size": 14}}, "height": 320,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 45},
            "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}},
            "legend": {"orientation": "h", "y": -0.25}, "hovermode": "x unified", **extra}


def _clean(values: Sequence[float] | np.ndarray) -> list[float | None]:
    return [None if v is None or not np.isfinite(v) else round(float(v), 4) for v in values]


def event_marks(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Vertical lines and labels for events (routing changes, rate changes, ...), given as
    ``{t_s, text}`` (see :func:`.runs.run_events`)."""
    shapes, notes = [], []
    for e in events[:MAX_ANNOTATIONS]:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": e["t_s"],
                       "x1": e["t_s"], "y0": 0, "y1": 1,
                       "line": {"color": "#999", "width": 1, "dash": "dot"}})
        notes.append({"x": e["t_s"], "y": 1, "xref": "x", "yref": "paper", "text": e["text"],
                      "showarrow": False, "textangle": -90, "xanchor": "right",
                      "yanchor": "top", "font": {"size": 9, "color": "#666"}})
    return {"shapes": shapes, "annotations": notes}


def rate_figure(run: RunData) -> Figure:
    data = []
    for i, s in enumerate(run.services):
        colour = COLOURS[i % len(COLOURS)]
        t = list(range(len(s.sent)))
        data.append({"type": "scatter", "mode": "lines", "name": f"{s.service} sent/s",
                     "x": t, "y": s.sent.tolist(), "line": {"color": colour}})
        if s.target:
            data.append({"type": "scatter", "mode": "lines", "name": f"{s.service} target",
                         "x": [p[0] for p in s.target], "y": [p[1] for p in s.target],
                         "line": {"color": colour, "dash": "dash"}})
        if s.errors.any():
            data.append({"type": "bar", "name": f"{s.service} errors/s", "x": t,
                         "y": s.errors.tolist(), "marker": {"color": colour, "opacity": 0.4}})
    return {"data": data, "layout": layout("Rate: target vs achieved", "time (s)",
                                           "requests per second", **event_marks(run.events))}


def latency_figure(run: RunData) -> Figure:
    data = []
    dashes = {50.0: "dot", 95.0: "dash", 99.0: "solid"}
    for i, s in enumerate(run.services):
        pct = s.percentile_series()
        for j, p in enumerate(PERCENTILES):
            data.append({"type": "scatter", "mode": "lines", "name": f"{s.service} p{p:g}",
                         "x": list(range(len(s.sent))), "y": _clean(pct[:, j]),
                         "line": {"color": COLOURS[i % len(COLOURS)], "dash": dashes[p]}})
    return {"data": data, "layout": layout(
        "Latency from the intended send time", "time (s)", "ms", **event_marks(run.events))}


def _spectrum_trace(h: np.ndarray, name: str, colour: str) -> dict[str, Any]:
    values = hist.percentiles(h[None, :], list(SPECTRUM_PCTS))[0]
    x = 1.0 / (1.0 - np.minimum(SPECTRUM_PCTS, 99.999) / 100.0)
    return {"type": "scatter", "mode": "lines", "name": name, "x": _clean(x),
            "y": _clean(values), "line": {"color": colour},
            "customdata": [f"{p:.3f}".rstrip("0").rstrip(".") for p in SPECTRUM_PCTS],
            "hovertemplate": "p%{customdata}: %{y:.3f} ms<extra>" + name + "</extra>"}


def _spectrum_layout(title: str) -> dict[str, Any]:
    ticks = [1, 2, 10, 100, 1000, 10000, 100000]
    return layout(title, "percentile", "ms", hovermode="closest", xaxis={
        "type": "log", "title": {"text": "percentile"}, "tickvals": ticks,
        "ticktext": ["0 %", "50 %", "90 %", "99 %", "99.9 %", "99.99 %", "99.999 %"]})


def spectrum_figure(runs: Sequence[RunData], per_service: bool = True) -> Figure:
    """The full percentile spectrum (HDR style): per service of one run, or per run."""
    data = []
    k = 0
    for run in runs:
        series = [(s.service, s.total) for s in run.services] if per_service else \
            [(run.exp_id, run.total_hist)]
        for name, h in series:
            label = name if len(runs) == 1 else f"{run.exp_id} {name}" if per_service else name
            if h.sum():
                data.append(_spectrum_trace(h, label, COLOURS[k % len(COLOURS)]))
            k += 1
    return {"data": data, "layout": _spectrum_layout("Percentile spectrum (latency from the "
                                                     "intended send time)")}


def histogram_figure(runs: Sequence[RunData]) -> Figure:
    data = []
    for k, run in enumerate(runs):
        h = run.total_hist
        nz = np.flatnonzero(h)
        if nz.size == 0:
            continue
        lo, hi = nz[0], nz[-1] + 1
        data.append({"type": "bar", "name": run.exp_id, "x": _clean(hist.CENTRES_MS[lo:hi]),
                     "y": h[lo:hi].tolist(), "opacity": 0.6 if len(runs) > 1 else 1.0,
                     "marker": {"color": COLOURS[k % len(COLOURS)]}})
    return {"data": data, "layout": layout("Latency histogram", "ms (log scale)", "requests",
                                           barmode="overlay", hovermode="closest",
                                           xaxis={"type": "log",
                                                  "title": {"text": "ms (log scale)"}})}


def telemetry_figure(run: RunData, metric: str) -> Figure | None:
    series = [s for s in run.telemetry if s["metric"] == metric]
    if not series:
        return None
    data = [{"type": "scatter", "mode": "lines", "name": s["node"], "x": s["t"], "y": s["v"],
             "line": {"color": COLOURS[i % len(COLOURS)]}} for i, s in enumerate(series)]
    load = [{"type": "scatter", "mode": "lines", "name": f"{s.service} sent/s", "yaxis": "y2",
             "x": list(range(len(s.sent))), "y": s.sent.tolist(),
             "line": {"color": "#bbb", "width": 1}} for s in run.services]
    first = series[0]
    return {"data": data + load, "layout": layout(
        f"{first['label']} per node, with the load", "time (s)", first["unit"],
        yaxis2={"overlaying": "y", "side": "right", "title": {"text": "req/s"},
                "showgrid": False}, **event_marks(run.events))}


def run_figures(run: RunData) -> list[tuple[str, Figure]]:
    """Every figure of a one-run report, with a stable name (also the PNG's file name)."""
    figs: list[tuple[str, Figure]] = [("rate", rate_figure(run)),
                                      ("latency", latency_figure(run)),
                                      ("spectrum", spectrum_figure([run])),
                                      ("histogram", histogram_figure([run]))]
    for metric in ("cpu", "ram", "rx", "tx"):
        fig = telemetry_figure(run, metric)
        if fig is not None:
            figs.append((f"telemetry-{metric}", fig))
    return figs


def compare_figures(runs: Sequence[RunData]) -> list[tuple[str, Figure]]:
    """Overlays of several runs: rate, p50 and p99 over time, spectrum, histogram."""
    rate, p50, p99 = [], [], []
    k = 0
    for run in runs:
        for s in run.services:
            colour, name = COLOURS[k % len(COLOURS)], f"{run.exp_id} {s.service}"
            t = list(range(len(s.sent)))
            pct = s.percentile_series()
            rate.append({"type": "scatter", "mode": "lines", "name": name, "x": t,
                         "y": s.sent.tolist(), "line": {"color": colour}})
            p50.append({"type": "scatter", "mode": "lines", "name": name, "x": t,
                        "y": _clean(pct[:, 0]), "line": {"color": colour}})
            p99.append({"type": "scatter", "mode": "lines", "name": name, "x": t,
                        "y": _clean(pct[:, 2]), "line": {"color": colour}})
            k += 1
    return [("compare-rate", {"data": rate, "layout": layout("Rate", "time (s)", "req/s")}),
            ("compare-p50", {"data": p50, "layout": layout("p50 over time", "time (s)", "ms")}),
            ("compare-p99", {"data": p99, "layout": layout("p99 over time", "time (s)", "ms")}),
            ("compare-spectrum", spectrum_figure(runs, per_service=False)),
            ("compare-histogram", histogram_figure(runs))]
