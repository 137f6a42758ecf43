"""Latency histograms with HDR-style buckets, as numpy arrays, computable in SQL.

A latency of ``L`` whole microseconds falls in bucket ``32 * k + (L >> k)`` where
``k = max(0, bit_length(L) - 6)``: exact below 64 µs, then 32 buckets per power of two (each at
most 3.1 % wide, so a percentile read at a bucket's centre is within 1.6 % of the exact order
statistic).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

SUB: Final = 32  # buckets per power of two
MAX_K: Final = 30  # latencies up to 2**36 µs (19 h); longer ones land in the last bucket
MAX_US: Final = 2 ** (MAX_K + 6) - 1
N_BUCKETS: Final = SUB * MAX_K + 2 * SUB


def _bounds() -> tuple[np.ndarray, np.ndarray]:
    b = np.arange(N_BUCKETS)
    k = np.maximum(0, b // SUB - 1)
    low = (b - SUB * k) * (2.0 ** k)
    width = 2.0 ** k
    return low, width


_LOW_US, _WIDTH_US = _bounds()
# the value a bucket stands for, in ms: exact below 64 µs, else the bucket's centre
CENTRES_MS: Final = np.where(_WIDTH_US == 1, _LOW_US, _LOW_US + _WIDTH_US / 2) / 1000.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def bucket_of(latency_ms: FloatArray) -> IntArray:
    """The bucket of each latency (negative ones count as 0, huge ones as the last bucket)."""
    us = np.clip(np.floor(np.asarray(latency_ms, dtype=float) * 1000.0), 0, MAX_US)
    us = us.astype(np.int64)
    k = np.maximum(0, np.floor(np.log2(np.maximum(us, 1))).astype(np.int64) - 5)
    out: IntArray = SUB * k + (us >> k)
    return out


def histograms(group: IntArray, n_groups: int, latency_ms: FloatArray) -> IntArray:
    """One histogram (row) per group index in ``range(n_groups)``; NaN latencies are skipped."""
    ok = ~np.isnan(latency_ms)
    flat = group[ok] * N_BUCKETS + bucket_of(latency_ms[ok])
    counts = np.bincount(flat, minlength=n_groups * N_BUCKETS)
    return counts.reshape(n_groups, N_BUCKETS).astype(np.int64)


def percentiles(hists: np.ndarray, ps: FloatArray | list[float]) -> FloatArray:
    """Percentiles (0-100) of each histogram row, shape ``(rows, len(ps))``; NaN for empty rows.

    The rank rule is numpy's "inverted_cdf" (the smallest value with at least p % of the
    samples at or below it)."""
    h = np.atleast_2d(hists)
    cum = np.cumsum(h, axis=1)
    total = cum[:, -1:]
    ranks = np.maximum(np.ceil(np.asarray(ps, dtype=float)[None, :] / 100.0 * total), 1)
    out = np.empty((h.shape[0], len(ps)), dtype=float)
    for j in range(len(ps)):
        idx = (cum < ranks[:, j:j + 1]).sum(axis=1)
        out[:, j] = CENTRES_MS[np.minimum(idx, N_BUCKETS - 1)]
    out[total[:, 0] == 0] = np.nan
    return out


def percentile(hist: np.ndarray, p: float) -> float:
    """One percentile of one histogram (NaN when empty)."""
    return float(percentiles(hist[None, :], [p])[0, 0])
