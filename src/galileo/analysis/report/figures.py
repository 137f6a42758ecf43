"""Plotly figure specs (plain dicts, rendered by plotly.js) for one run or several runs.

The same specs feed the HTML report and the dashboard; :mod:`.png` draws the same content with
matplotlib for papers. Times are seconds since the run's first intended send.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from galileo.analysis.autoscale import ReplicaSeries

from . import hist
from .runs import PERCENTILES, RunData

Figure = dict[str, Any]
COLOURS: Final = ("#1f77b4", "#9467bd", "#2ca02c", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
                  "#7f7f7f", "#bcbd22", "#393b79")
ERROR_COLOUR: Final = "#cf222e"  # errors are red, and no other series is
EVENT_COLOUR: Final = "#57606a"
EVENTS_AXIS: Final = "y9"  # a hidden 0..1 axis the event markers sit on
MAX_EVENT_MARKS: Final = 200
# plotly.js options of every chart: no logo, no cloud/"edit in Chart Studio" links
PLOTLY_CONFIG: Final = {"displaylogo": False, "responsive": True, "showLink": False,
                        "showSendToCloud": False, "showEditInChartStudio": False,
                        "modeBarButtonsToRemove": ["sendDataToCloud", "editInChartStudio",
                                                   "lasso2d", "select2d"]}
# the percentile spectrum's x positions: 0 %, 90 %, 99 %, 99.9 %, ... on a log(1/(1-p)) axis
SPECTRUM_PCTS: Final = np.concatenate([np.linspace(0, 90, 19), 100 - np.logspace(1, -3, 41)[1:]])
NO_SUCCESS: Final = "no successful responses: nothing to draw"


def layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    """A chart's layout: title on the left (the toolbar is on the right), legend below,
    full hover names."""
    return {"title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
            "height": 330, "margin": {"l": 60, "r": 40, "t": 50, "b": 45},
            "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}},
            "legend": {"orientation": "h", "y": -0.25}, "hovermode": "x unified",
            "hoverlabel": {"namelength": -1}, "paper_bgcolor": "#fff", "plot_bgcolor": "#fff",
            "modebar": {"orientation": "v"},  # down the right edge: never over the title
            **extra}


def empty(fig: Figure, text: str = NO_SUCCESS) -> Figure:
    """``fig`` with a note instead of empty axes when no trace has a value."""
    if any(v is not None for t in fig["data"] for v in t.get("y", [])):
        return fig
    lay = dict(fig["layout"], xaxis={"visible": False}, yaxis={"visible": False},
               annotations=[{"text": text, "showarrow": False, "xref": "paper",
                             "yref": "paper", "x": 0.5, "y": 0.5, "font": {"size": 14}}])
    lay.pop("shapes", None)
    return {"data": [], "layout": lay, "empty": text}


def _clean(values: Sequence[float] | np.ndarray) -> list[float | None]:
    return [None if v is None or not np.isfinite(v) else round(float(v), 4) for v in values]


def series(name: str, x: Sequence[float], y: Sequence[Any], colour: str, unit: str,
           dash: str = "solid", digits: int = 2, **extra: Any) -> dict[str, Any]:
    """One line with its unit in the hover."""
    return {"type": "scatter", "mode": "lines", "name": name, "x": list(x), "y": list(y),
            "line": {"color": colour, "dash": dash},
            "hovertemplate": f"%{{y:.{digits}f}} {unit}", **extra}


def rate_traces(service: str, colour: str, x: Sequence[float], sent: Sequence[int],
                errors: Sequence[int]) -> list[dict[str, Any]]:
    """sent/s and (red) errors/s of one service, drawn at the middle of their second."""
    mid = [v + 0.5 for v in x]
    return [series(f"{service} sent/s", mid, sent, colour, "req/s", digits=0),
            series(f"{service} errors/s", mid, errors, ERROR_COLOUR, "errors/s", digits=0,
                   line={"color": ERROR_COLOUR, "width": 2})]


def _event_groups(events: Sequence[dict[str, Any]], span_s: float) -> list[list[dict[str, Any]]]:
    """Events closer than 1 % of the span (at least 0.5 s) become one marker."""
    gap = max(span_s / 100.0, 0.5)
    groups: list[list[dict[str, Any]]] = []
    for e in sorted(events, key=lambda e: e["t_s"]):
        if groups and e["t_s"] - groups[-1][0]["t_s"] <= gap:
            groups[-1].append(e)
        else:
            groups.append([e])
    return groups


def event_layer(events: Sequence[dict[str, Any]], span_s: float = 0.0
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Events as markers on the time axis (hover: what happened, group ids included) with a
    faint line each; simultaneous ones share a marker. Returns (traces, layout additions)."""
    if not events:
        return [], {}
    groups = _event_groups(events[-MAX_EVENT_MARKS:], span_s)
    xs, texts, sizes = [], [], []
    for grp in groups:
        xs.append(grp[0]["t_s"])
        lines = [f"{e['text']}" + (f" <span style='color:#57606a'>({e['name']})</span>"
                                   if e.get("name") and e["name"] not in e["text"] else "")
                 for e in grp[:12]]
        if len(grp) > 12:
            lines.append(f"… and {len(grp) - 12} more")
        texts.append(f"t = {grp[0]['t_s']:.1f} s<br>" + "<br>".join(lines))
        sizes.append(9 if len(grp) == 1 else 13)
    trace = {"type": "scatter", "mode": "markers", "name": "events", "x": xs,
             "y": [0.0] * len(xs), "yaxis": EVENTS_AXIS, "meta": "events",
             "marker": {"symbol": "triangle-up", "size": sizes, "color": EVENT_COLOUR},
             "text": texts, "hovertemplate": "%{text}<extra></extra>", "showlegend": False}
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
               "line": {"color": "#d0d7de", "width": 1, "dash": "dot"}, "layer": "below"}
              for x in xs]
    axis = {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    return [trace], {"shapes": shapes, "yaxis9": axis}


def with_events(fig: Figure, events: Sequence[dict[str, Any]], span_s: float) -> Figure:
    """``fig`` with the event markers added (nothing when it has no data)."""
    if not fig["data"]:
        return fig
    traces, extra = event_layer(events, span_s)
    return {"data": fig["data"] + traces, "layout": {**fig["layout"], **extra}}


def rate_figure(run: RunData) -> Figure:
    data = []
    for i, s in enumerate(run.services):
        colour = COLOURS[i % len(COLOURS)]
        data += rate_traces(s.service, colour, range(len(s.sent)), s.sent_out.tolist(),
                            s.errors.tolist())
        if s.target:
            data.append(series(f"{s.service} target", [p[0] for p in s.target],
                               [p[1] for p in s.target], colour, "req/s", "dash", 1))
    return with_events({"data": data, "layout": layout(
        "Rate: target, sent and errors", "time (s)", "requests per second")},
        run.events, run.seconds)


def latency_figure(run: RunData) -> Figure:
    data = []
    dashes = {50.0: "dot", 95.0: "dash", 99.0: "solid"}
    for i, s in enumerate(run.services):
        pct = s.percentile_series()
        x = [t + 0.5 for t in range(len(s.sent))]
        for j, p in enumerate(PERCENTILES):
            data.append(series(f"{s.service} p{p:g}", x, _clean(pct[:, j]),
                               COLOURS[i % len(COLOURS)], "ms", dashes[p], 3))
    fig = empty({"data": data, "layout": layout(
        "Latency from the intended send time (≈, bucketed)", "time (s)", "ms")})
    return with_events(fig, run.events, run.seconds)


def _extended(steps: Sequence[tuple[float, float]], end_s: float
              ) -> tuple[list[float], list[float]]:
    """A step function's points with its last value carried on to ``end_s``."""
    xs, ys = [t for t, _ in steps], [v for _, v in steps]
    if xs and end_s > xs[-1]:
        xs.append(end_s)
        ys.append(ys[-1])
    return xs, ys


def replicas_figure(replicas: dict[str, ReplicaSeries], events: Sequence[dict[str, Any]],
                    span_s: float, **extra: Any) -> Figure | None:
    """Ready (solid) and declared (dashed) replicas per autoscaled service over time, as steps,
    with the events; ``None`` when no service was autoscaled."""
    if not replicas:
        return None
    data = []
    end = max([span_s] + [t for s in replicas.values() for t, _ in s.declared + s.ready])
    for i, (name, s) in enumerate(sorted(replicas.items())):
        colour = COLOURS[i % len(COLOURS)]
        for label, steps, dash in (("ready", s.ready, "solid"), ("declared", s.declared, "dash")):
            if steps:
                xs, ys = _extended(steps, end)
                data.append(series(f"{name} {label}", xs, ys, colour, "replicas", dash, 0,
                                   line={"color": colour, "dash": dash, "shape": "hv"}))
    lay = layout("Replicas (autoscaled services)", "time (s)", "replicas", **extra)
    lay["yaxis"] = {"title": {"text": "replicas"}, "rangemode": "tozero", "dtick": 1}
    lay["xaxis"] = {"title": {"text": "time (s)"}, "rangemode": "tozero"}  # as rate, latency
    fig: Figure = {"data": data, "layout": lay}
    return with_events(fig, [e for e in events if e["kind"] == "autoscale"], span_s)


def _spectrum_trace(h: np.ndarray, name: str, colour: str) -> dict[str, Any]:
    values = hist.percentiles(h[None, :], list(SPECTRUM_PCTS))[0]
    x = 1.0 / (1.0 - np.minimum(SPECTRUM_PCTS, 99.999) / 100.0)
    return {"type": "scatter", "mode": "lines", "name": name, "x": _clean(x),
            "y": _clean(values), "line": {"color": colour},
            "customdata": [f"{p:.3f}".rstrip("0").rstrip(".") for p in SPECTRUM_PCTS],
            "hovertemplate": "p%{customdata}: %{y:.3f} ms<extra>" + name + "</extra>"}


def _spectrum_layout(title: str) -> dict[str, Any]:
    ticks = [2, 10, 100, 1000, 10000, 100000]
    return layout(title, "percentile", "ms", hovermode="closest", xaxis={
        "type": "log", "title": {"text": "percentile"}, "tickvals": ticks,
        "ticktext": ["50 %", "90 %", "99 %", "99.9 %", "99.99 %", "99.999 %"]})


def spectrum_figure(runs: Sequence[RunData], per_service: bool = True) -> Figure:
    """The full percentile spectrum (HDR style): per service of one run, or per run."""
    data = []
    k = 0
    for run in runs:
        series_ = [(s.service, s.total) for s in run.services] if per_service else \
            [(run.exp_id, run.total_hist)]
        for name, h in series_:
            label = name if len(runs) == 1 else f"{run.exp_id} {name}" if per_service else name
            if h.sum():
                data.append(_spectrum_trace(h, label, COLOURS[k % len(COLOURS)]))
            k += 1
    return empty({"data": data, "layout": _spectrum_layout(
        "Percentile spectrum (latency from the intended send time, ≈)")})


def _histogram_trace(h: np.ndarray, name: str, colour: str, overlay: bool) -> dict[str, Any]:
    nz = np.flatnonzero(h)
    lo, hi = nz[0], nz[-1] + 1
    return {"type": "bar", "name": name, "x": _clean(hist.CENTRES_MS[lo:hi]),
            "y": h[lo:hi].tolist(), "opacity": 0.6 if overlay else 1.0,
            "marker": {"color": colour},
            "hovertemplate": "%{x:.3f} ms: %{y} requests<extra>" + name + "</extra>"}


def histogram_figure(runs: Sequence[RunData]) -> Figure:
    """Latency histogram: per service of one run, per run when comparing (with a legend)."""
    named = ([(s.service, s.total) for s in runs[0].services] if len(runs) == 1
             else [(run.exp_id, run.total_hist) for run in runs])
    named = [(n, h) for n, h in named if h.sum()]
    data = [_histogram_trace(h, n, COLOURS[k % len(COLOURS)], len(named) > 1)
            for k, (n, h) in enumerate(named)]
    return empty({"data": data, "layout": layout(
        "Latency histogram", "ms (log scale)", "requests", barmode="overlay",
        hovermode="closest", showlegend=True,
        xaxis={"type": "log", "title": {"text": "ms (log scale)"}})})


def telemetry_figure(run: RunData, metric: str) -> Figure | None:
    found = [s for s in run.telemetry if s["metric"] == metric]
    if not found:
        return None
    first = found[0]
    data = [series(s["node"], s["t"], s["v"], COLOURS[i % len(COLOURS)], first["unit"])
            for i, s in enumerate(found)]
    load = [series(f"{s.service} sent/s", [t + 0.5 for t in range(len(s.sent))],
                   s.sent_out.tolist(), "#8c959f", "req/s", digits=0, yaxis="y2",
                   line={"color": "#8c959f", "width": 1}) for s in run.services]
    return with_events({"data": data + load, "layout": layout(
        f"{first['label']} per node, with the load", "time (s)", first["unit"],
        yaxis2={"overlaying": "y", "side": "right", "title": {"text": "req/s"},
                "showgrid": False})}, run.events, run.seconds)


def run_figures(run: RunData) -> list[tuple[str, Figure]]:
    """Every figure of a one-run report, with a stable name (also the PNG's file name)."""
    figs: list[tuple[str, Figure]] = [("rate", rate_figure(run)),
                                      ("latency", latency_figure(run))]
    replicas = replicas_figure(run.replicas, run.events, float(run.seconds))
    if replicas is not None:
        figs.append(("replicas", replicas))
    figs += [("spectrum", spectrum_figure([run])), ("histogram", histogram_figure([run]))]
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
            t = [v + 0.5 for v in range(len(s.sent))]
            pct = s.percentile_series()
            rate.append(series(name, t, s.sent_out.tolist(), colour, "req/s", digits=0))
            if s.errors.any():
                rate.append(series(f"{name} errors/s", t, s.errors.tolist(), ERROR_COLOUR,
                                   "errors/s", "dot", 0))
            p50.append(series(name, t, _clean(pct[:, 0]), colour, "ms", digits=3))
            p99.append(series(name, t, _clean(pct[:, 2]), colour, "ms", digits=3))
            k += 1
    return [("compare-rate", {"data": rate, "layout": layout("Rate", "time (s)", "req/s")}),
            ("compare-p50", empty({"data": p50, "layout": layout("p50 over time (≈)",
                                                                 "time (s)", "ms")})),
            ("compare-p99", empty({"data": p99, "layout": layout("p99 over time (≈)",
                                                                 "time (s)", "ms")})),
            ("compare-spectrum", spectrum_figure(runs, per_service=False)),
            ("compare-histogram", histogram_figure(runs))]
