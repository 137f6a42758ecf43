"""Run comparison with bootstrap confidence intervals and a plain verdict.

The bootstrap resamples **per-second windows** (with replacement), not single requests: requests
within one second share the same load, queue and GC state, so they are not independent, and a
per-request bootstrap would give intervals that are too narrow. A resample of run A draws as many
seconds as A has (with replacement) and sums their latency histograms and error counts; the
statistic (p50, p99, error rate) is computed on that sum. The relative difference B/A - 1 of
``N_RESAMPLES`` independent resamples of both runs gives a 95 % percentile interval. The verdict
says "higher"/"lower" only when the interval excludes 0, else "no clear difference".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from . import hist
from .runs import RunData, ServiceSeries

N_RESAMPLES: Final = 1000
CONFIDENCE: Final = 0.95
SEED: Final = 20240101
METRICS: Final = ("p50", "p99", "error rate")


@dataclass(frozen=True)
class Difference:
    """One metric of one service, run B against run A."""

    service: str
    metric: str
    a: float | None
    b: float | None
    rel: float | None  # B / A - 1 (point estimate)
    low: float | None  # CI bounds of B / A - 1
    high: float | None

    @property
    def significant(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def verdict(self, b_name: str = "B") -> str:
        """``p99 is 14 % ± 4 % higher in B`` (± is half the width of the 95 % interval)."""
        if self.a == 0 and self.b == 0:
            return f"{self.metric}: 0 in both runs"
        if self.rel is None or self.low is None or self.high is None:
            return f"{self.metric}: not comparable (no data in one run)"
        pm = (self.high - self.low) / 2 * 100
        pct = abs(self.rel) * 100
        if not self.significant:
            return (f"{self.metric}: no clear difference ({self.rel * 100:+.0f} % ± {pm:.0f} %)")
        word = "higher" if self.rel > 0 else "lower"
        return f"{self.metric} is {pct:.0f} % ± {pm:.0f} % {word} in {b_name}"


def _statistic(metric: str, hists: np.ndarray, sent: np.ndarray, errors: np.ndarray) -> np.ndarray:
    if metric == "error rate":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(sent > 0, errors / np.maximum(sent, 1), np.nan).astype(float)
    p = 50.0 if metric == "p50" else 99.0
    return hist.percentiles(hists, [p])[:, 0]


def _resample(s: ServiceSeries, rng: np.random.Generator, metric: str) -> np.ndarray:
    """The statistic of ``N_RESAMPLES`` resamples of the service's active seconds."""
    active = np.flatnonzero(s.sent > 0)
    if active.size == 0:
        return np.full(N_RESAMPLES, np.nan)
    picks = rng.integers(0, active.size, size=(N_RESAMPLES, active.size))
    weights = np.zeros((N_RESAMPLES, active.size), dtype=np.float64)  # float: BLAS matmul
    np.add.at(weights, (np.arange(N_RESAMPLES)[:, None], picks), 1.0)
    sent = weights @ s.sent[active].astype(np.float64)
    errors = weights @ s.errors[active].astype(np.float64)
    hists = (weights @ s.hists[active].astype(np.float64) if metric != "error rate"
             else np.zeros((1, 1)))
    return _statistic(metric, hists, sent, errors)


def _point(s: ServiceSeries, metric: str) -> float | None:
    value = float(_statistic(metric, s.total[None, :], np.array([s.sent.sum()]),
                             np.array([s.errors.sum()]))[0])
    return None if np.isnan(value) else value


def compare_service(a: ServiceSeries, b: ServiceSeries, seed: int = SEED) -> list[Difference]:
    """p50, p99 and error-rate differences of one service between two runs."""
    rng = np.random.default_rng(seed)
    out = []
    for metric in METRICS:
        pa, pb = _point(a, metric), _point(b, metric)
        if pa is None or pb is None or pa == 0:
            rel = None if pa is None or pb is None else (0.0 if pb == pa else None)
            out.append(Difference(a.service, metric, pa, pb, rel, rel, rel))
            continue
        ra, rb = _resample(a, rng, metric), _resample(b, rng, metric)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = rb / ra - 1
        ratio = ratio[np.isfinite(ratio)]
        tail = (1 - CONFIDENCE) / 2 * 100
        low, high = (np.percentile(ratio, [tail, 100 - tail]) if ratio.size
                     else (np.nan, np.nan))
        out.append(Difference(a.service, metric, pa, pb, pb / pa - 1, float(low), float(high)))
    return out


def compare_runs(base: RunData, other: RunData) -> list[Difference]:
    """Differences for every service of either run (``other`` against ``base``); a service
    missing from one run is listed as not comparable."""
    mine = {s.service: s for s in base.services}
    theirs = {s.service: s for s in other.services}
    out: list[Difference] = []
    for name in sorted(mine.keys() | theirs.keys()):
        if name in mine and name in theirs:
            out += compare_service(mine[name], theirs[name])
        else:
            out += [Difference(name, m, None, None, None, None, None) for m in METRICS]
    return out
