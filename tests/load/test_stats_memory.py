"""Per-second histograms are freed at once (the worker's native memory growth, issue 10).

hdrh's histogram and its encoder referenced each other, so each ~150 KB counts buffer waited
for a full cyclic collection, which a busy load process (``quiet_gc``) almost never runs."""

from __future__ import annotations

import ctypes
import gc
import random
import weakref
from array import array
from collections.abc import Iterator

import pytest
from hdrh.histogram import HdrHistogram

from galileo.load.stats import (
    Histogram,
    decode_histogram,
    encode_histogram,
    histogram_of,
    merge_histograms,
    new_histogram,
)


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_histograms_are_freed_without_the_cyclic_collector(no_cyclic_gc: None) -> None:
    h = new_histogram()
    h.record_value(1500, 3)
    data = encode_histogram(h)
    refs = [weakref.ref(h), weakref.ref(Histogram.decode(data)),
            weakref.ref(decode_histogram(data))]
    del h
    assert [r() for r in refs] == [None, None, None]
    for _ in range(20):  # what a worker does every second, per group
        merged = merge_histograms([histogram_of(array("q", [2_000_000, 9_000_000])), data])
    # nothing collected yet: any histogram or counts buffer still alive would be in a cycle
    assert not [o for o in gc.get_objects() if isinstance(o, HdrHistogram | ctypes.Array)]
    assert decode_histogram(merged).get_total_count() == 5
    assert gc.collect() == 0  # not even the ctypes array types hdrh made per buffer size


def test_encoding_is_hdrh_byte_for_byte() -> None:
    rng = random.Random(7)
    for n in (0, 1, 17, 500):
        values = [rng.randint(1, 100_000_000) for _ in range(n)]
        ours, theirs = new_histogram(), HdrHistogram(1, 100_000_000, 3)
        for v in values:
            ours.record_value(v)
            theirs.record_value(v)
        assert encode_histogram(ours) == theirs.encode()
        assert decode_histogram(theirs.encode()).get_total_count() == n
