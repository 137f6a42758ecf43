"""Per-second group statistics: counters and two HdrHistograms of latency in microseconds.

``hist_intended`` measures from the *intended* send time (free of coordinated omission, as in
wrk2); ``hist_actual`` from the actual send. Values above ``HIST_MAX_US`` are clamped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from hdrh.histogram import HdrHistogram

HIST_MIN_US: Final = 1
HIST_MAX_US: Final = 100_000_000  # 100 s
HIST_DIGITS: Final = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(HIST_MIN_US, HIST_MAX_US, HIST_DIGITS)


class StatsWindow:
    """Counters of one group in one process for the current second."""

    __slots__ = ("done", "errors", "hist_actual", "hist_intended", "late", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.done = 0
        self.errors = 0
        self.late = 0
        self.hist_intended = new_histogram()
        self.hist_actual = new_histogram()

    def record(self, from_intended_ns: int, from_sent_ns: int) -> None:
        """Record one response's latencies (ns in, µs stored)."""
        a = from_intended_ns // 1000
        b = from_sent_ns // 1000
        self.hist_intended.record_value(a if a < HIST_MAX_US else HIST_MAX_US)
        self.hist_actual.record_value(b if b < HIST_MAX_US else HIST_MAX_US)

    def take(self) -> tuple[int, int, int, int, bytes, bytes]:
        """``(sent, done, errors, late, hist_intended, hist_actual)`` and reset."""
        out = (self.sent, self.done, self.errors, self.late,
               encode_histogram(self.hist_intended), encode_histogram(self.hist_actual))
        self.sent = self.done = self.errors = self.late = 0
        self.hist_intended.reset()
        self.hist_actual.reset()
        return out


def encode_histogram(h: HdrHistogram) -> bytes:
    data = h.encode()
    return data if isinstance(data, bytes) else bytes(data)


def merge_histograms(encoded: Iterable[bytes]) -> bytes:
    """One encoded histogram holding every value of ``encoded``."""
    total = new_histogram()
    for data in encoded:
        if data:
            total.decode_and_add(data)
    return encode_histogram(total)


def decode_histogram(data: bytes) -> HdrHistogram:
    h = new_histogram()
    if data:
        h.decode_and_add(data)
    return h
