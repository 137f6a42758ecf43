"""Log-bucketed latency histograms (HDR style, ~2.3 % relative resolution) as numpy arrays.

Every aggregate of a run is a sum of such histograms: per second and service (curves), per
worker or host (tables), per run (spectrum, histogram). Sums are exact; percentiles read from a
histogram are within one bucket (≤ 2.3 % relative) of the exact order statistic.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

MIN_MS: Final = 0.01  # 10 µs: everything faster lands in the first bucket
MAX_MS: Final = 1e5  # 100 s: everything slower lands in the last bucket
BUCKETS_PER_DECADE: Final = 100  # 10 ** (1 / 100) ≈ 1.023: 2.3 % buckets
N_BUCKETS: Final = int(np.log10(MAX_MS / MIN_MS) * BUCKETS_PER_DECADE) + 1
# the value a bucket stands for: its geometric centre
CENTRES_MS: Final = MIN_MS * 10 ** ((np.arange(N_BUCKETS) + 0.5) / BUCKETS_PER_DECADE)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def bucket_of(latency_ms: FloatArray) -> IntArray:
    """The bucket of each latency (clipped to the histogram's range)."""
    clipped = np.clip(latency_ms, MIN_MS, MAX_MS)
    idx = np.floor(np.log10(clipped / MIN_MS) * BUCKETS_PER_DECADE).astype(np.int64)
    out: IntArray = np.minimum(idx, N_BUCKETS - 1)
    return out


def histograms(group: IntArray, n_groups: int, latency_ms: FloatArray) -> IntArray:
    """One histogram (row) per group index in ``range(n_groups)``; NaN latencies are skipped."""
    ok = ~np.isnan(latency_ms)
    flat = group[ok] * N_BUCKETS + bucket_of(latency_ms[ok])
    counts = np.bincount(flat, minlength=n_groups * N_BUCKETS)
    return counts.reshape(n_groups, N_BUCKETS).astype(np.int64)


def percentiles(hists: IntArray, ps: FloatArray | list[float]) -> FloatArray:
    """Percentiles (0-100) of each histogram row, shape ``(rows, len(ps))``; NaN for empty rows.

    Works on a 2-D array of histograms; the rank rule is numpy's "inverted_cdf" (the smallest
    value with at least p % of the samples at or below it)."""
    h = np.atleast_2d(hists)
    cum = np.cumsum(h, axis=1)
    total = cum[:, -1:]
    ranks = np.ceil(np.asarray(ps, dtype=float)[None, :] / 100.0 * total)
    ranks = np.maximum(ranks, 1)
    out = np.empty((h.shape[0], len(ps)), dtype=float)
    for j in range(len(ps)):
        idx = (cum < ranks[:, j:j + 1]).sum(axis=1)
        out[:, j] = CENTRES_MS[np.minimum(idx, N_BUCKETS - 1)]
    out[total[:, 0] == 0] = np.nan
    return out


def percentile(hist: IntArray, p: float) -> float:
    """One percentile of one histogram (NaN when empty)."""
    return float(percentiles(hist[None, :], [p])[0, 0])
