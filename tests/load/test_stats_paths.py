"""The pure-Python histogram path (lean worker install, no numpy) equals the numpy path."""

from __future__ import annotations

import random
from array import array

import pytest

from galileo.load import stats


def test_python_and_numpy_bucketing_agree() -> None:
    rng = random.Random(7)
    values = [0, 1, 999, 1000, 1023_999, 1024_000, 2047_000, 2048_000, 10**14, -5]
    values += [int(rng.lognormvariate(13, 2.5)) for _ in range(20_000)]
    latencies = array("q", values)
    by_numpy = list(stats._bucket_counts_numpy(latencies))
    by_python = list(stats._bucket_counts_python(latencies))
    assert by_python == by_numpy
    assert sum(c for _, c in by_python) == len(values)
    # the buckets are fine enough: every value is within 0.1 % of its bucket (3 digits)
    for ns in values[:9]:
        us = min(max(ns // 1000, 0), stats.HIST_MAX_US)
        bucket = max(v for v, _ in by_python if v <= us)
        assert us - bucket <= max(us / 1000, 1)


def test_histogram_without_numpy_has_the_same_percentiles(monkeypatch: pytest.MonkeyPatch) -> None:
    latencies = array("q", [i * 1_000 for i in range(1, 5_001)])
    with_numpy = stats.decode_histogram(stats.histogram_of(latencies))
    monkeypatch.setattr(stats, "np", None)
    without = stats.decode_histogram(stats.histogram_of(latencies))
    for q in (50, 90, 99, 99.9, 100):
        assert without.get_value_at_percentile(q) == with_numpy.get_value_at_percentile(q)
    assert without.get_total_count() == 5_000
