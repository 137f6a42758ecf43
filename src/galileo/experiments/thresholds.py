"""Thresholds (``p99_ms < 250``, ``error_rate < 0.01``, ``achieved_rate > 0.99 * target``):
parsed when a scenario is validated, evaluated from the stored traces of one experiment."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

METRICS: Final = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "error_rate",
                  "achieved_rate", "requests", "errors")
_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_RE: Final = re.compile(
    r"^\s*(?P<metric>[a-z0-9_]+)\s*(?P<op><=|>=|<|>)\s*"
    r"(?:(?P<factor>[0-9.eE+-]+)\s*\*\s*target|(?P<target>target)|(?P<number>[0-9.eE+-]+))\s*$")


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    op: str
    value: float
    of_target: bool = False  # value is a factor of the planned mean rate

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """Parse one threshold expression; ``ValueError`` names what is wrong."""
        m = _RE.match(text)
        if m is None:
            raise ValueError(f"cannot parse threshold {text!r}: write METRIC OP VALUE, e.g. "
                             "'p99_ms < 250' or 'achieved_rate > 0.99 * target'")
        metric = m["metric"]
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r} in {text!r}; use one of "
                             + ", ".join(METRICS))
        if m["target"] or m["factor"]:
            factor = 1.0 if m["target"] else _number(m["factor"], text)
            return cls(metric, m["op"], factor, of_target=True)
        return cls(metric, m["op"], _number(m["number"], text))

    def format(self) -> str:
        rhs = (f"{self.value:g} * target" if self.value != 1 else "target") if self.of_target \
            else f"{self.value:g}"
        return f"{self.metric} {self.op} {rhs}"


def _number(text: str, expr: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} in {expr!r} is not a number") from None


@dataclass(frozen=True, slots=True)
class Verdict:
    scope: str  # workload name or "global"
    threshold: str
    observed: float | None
    limit: float
    passed: bool

    def format(self) -> str:
        seen = "no data" if self.observed is None else f"{self.observed:.4g}"
        mark = "PASS" if self.passed else "FAIL"
        return f"{mark}  [{self.scope}] {self.threshold}  (observed {seen}, limit {self.limit:.4g})"


@dataclass(frozen=True, slots=True)
class Observed:
    """What the traces of one scope say."""

    requests: int
    errors: int
    latencies_ms: list[float]
    duration_s: float
    target_rps: float

    def metric(self, name: str) -> float | None:
        lat = np.asarray(self.latencies_ms, dtype=float)
        if name.endswith("_ms") and name != "mean_ms" and name != "max_ms":
            if lat.size == 0:
                return None
            # the order statistic (numpy's inverted_cdf), as the dashboard's and reports' exact
            # percentiles: one p99 per run wherever it shows
            return float(np.percentile(lat, float(name[1:-3]), method="inverted_cdf"))
        values: dict[str, float | None] = {
            "mean_ms": float(lat.mean()) if lat.size else None,
            "max_ms": float(lat.max()) if lat.size else None,
            "error_rate": (self.errors / self.requests) if self.requests else None,
            "achieved_rate": self.requests / self.duration_s if self.duration_s > 0 else None,
            "requests": float(self.requests),
            "errors": float(self.errors),
        }
        return values[name]


def evaluate(scope: str, thresholds: list[Threshold], seen: Observed) -> list[Verdict]:
    out = []
    for t in thresholds:
        limit = t.value * seen.target_rps if t.of_target else t.value
        value = seen.metric(t.metric)
        passed = value is not None and _OPS[t.op](value, limit)
        out.append(Verdict(scope, t.format(), value, limit, passed))
    return out
