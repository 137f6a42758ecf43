"""A per-second timeline of an experiment's traces as a self-contained HTML page (inline SVG, no
plotting library needed): requests sent per second against the planned rate, and p50/p99
latency measured from the intended send time, one panel per service."""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

NS_PER_S: Final = 1_000_000_000
WIDTH: Final = 760
HEIGHT: Final = 220
PAD: Final = 48


@dataclass(frozen=True)
class Second:
    """One service during one second (relative to the experiment's first request)."""

    t: int
    sent: int
    errors: int
    p50_ms: float
    p99_ms: float


def per_second(traces: Iterable[Mapping[str, Any]]) -> dict[str, list[Second]]:
    """Group trace rows by service and by second of their intended send time."""
    rows = list(traces)
    if not rows:
        return {}
    t0 = min(r["intended_ns"] for r in rows)
    buckets: dict[str, dict[int, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        buckets[r["service"]][(r["intended_ns"] - t0) // NS_PER_S].append(r)
    out: dict[str, list[Second]] = {}
    for service, seconds in sorted(buckets.items()):
        series = []
        for t in range(max(seconds) + 1):
            got = seconds.get(t, [])
            lat = sorted((r["done_ns"] - r["intended_ns"]) / 1e6 for r in got if r["status"])
            series.append(Second(t, len(got), sum(1 for r in got if _failed(r)),
                                 _pct(lat, 50), _pct(lat, 99)))
        out[service] = series
    return out


def timeline_html(series: Mapping[str, Sequence[Second]], title: str) -> str:
    """The page: two charts per service (rate; latency)."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<body style='font-family:sans-serif;max-width:800px;margin:auto'>",
             f"<h1 style='font-size:20px'>{html.escape(title)}</h1>"]
    for service, secs in series.items():
        total = sum(s.sent for s in secs)
        errors = sum(s.errors for s in secs)
        parts.append(f"<h2 style='font-size:16px'>{html.escape(service)}: {total} requests, "
                     f"{errors} errors</h2>")
        parts.append(_chart([("sent/s", "#1f77b4", [s.sent for s in secs])], "requests per second"))
        parts.append(_chart([("p50", "#2ca02c", [s.p50_ms for s in secs]),
                             ("p99", "#d62728", [s.p99_ms for s in secs])],
                            "latency from the intended send time (ms)"))
    parts.append("</body>")
    return "\n".join(parts)


def _chart(lines: Sequence[tuple[str, str, Sequence[float]]], label: str) -> str:
    n = max(len(v) for _, _, v in lines)
    top = max((x for _, _, v in lines for x in v if not math.isnan(x)), default=1.0) or 1.0
    w, h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(i: int, v: float) -> str:
        x = PAD + (w * i / max(n - 1, 1))
        return f"{x:.1f},{PAD + h - h * v / top:.1f}"

    svg = [f"<svg width='{WIDTH}' height='{HEIGHT}' role='img' aria-label='{label}'>",
           f"<text x='{PAD}' y='20' font-size='13'>{html.escape(label)}</text>",
           f"<line x1='{PAD}' y1='{PAD + h}' x2='{PAD + w}' y2='{PAD + h}' stroke='#888'/>",
           f"<line x1='{PAD}' y1='{PAD}' x2='{PAD}' y2='{PAD + h}' stroke='#888'/>",
           f"<text x='4' y='{PAD + 4}' font-size='11'>{top:.4g}</text>",
           f"<text x='4' y='{PAD + h}' font-size='11'>0</text>",
           f"<text x='{PAD + w - 40}' y='{HEIGHT - 10}' font-size='11'>{n - 1} s</text>"]
    for k, (name, color, values) in enumerate(lines):
        points = " ".join(xy(i, v) for i, v in enumerate(values) if not math.isnan(v))
        svg.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{points}'/>")
        svg.append(f"<text x='{PAD + 10 + 70 * k}' y='{PAD - 8}' font-size='12' "
                   f"fill='{color}'>{html.escape(name)}</text>")
    svg.append("</svg>")
    return "".join(svg)


def _failed(row: Mapping[str, Any]) -> bool:
    return bool(row.get("error")) or not 200 <= int(row["status"]) < 400


def _pct(values: Sequence[float], p: float) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, int(p / 100 * len(values)))]
