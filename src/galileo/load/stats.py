"""Per-second group statistics: counters and two HdrHistograms of latency in microseconds.

``hist_intended`` measures from the *intended* send time (free of coordinated omission, as in
wrk2); ``hist_actual`` from the actual send. Values above ``HIST_MAX_US`` are clamped.
"""

from __future__ import annotations

import base64
import ctypes
import weakref
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable
from typing import Any, Final

import pyhdrh  # type: ignore[import-not-found]  # hdrh's C codec, no stubs
from hdrh.codec import HdrHistogramEncoder, ext_header_size, payload_header_size
from hdrh.histogram import HdrHistogram

np: Any
try:  # numpy speeds up bucketing; the lean worker install (no numpy) takes the pure-Python path
    import numpy as np
except ModuleNotFoundError:  # pragma: no cover - exercised by tests/load/test_stats_paths.py
    np = None

HIST_MIN_US: Final = 1
HIST_MAX_US: Final = 100_000_000  # 100 s
HIST_DIGITS: Final = 3


class Histogram(HdrHistogram):  # type: ignore[misc]
    """An HdrHistogram freed as soon as it is unreferenced.

    hdrh's histogram and its encoder point at each other, so every histogram (with its
    ~150 KB counts buffer, allocated outside the Python object heap) waited for a full cyclic
    garbage collection -- rare in a busy load process (see ``quiet_gc``): a worker grew by
    megabytes a minute. Here the encoder points back through a weak reference; decoding
    builds such histograms too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.encoder.histogram = weakref.proxy(self)

    def encode(self) -> bytes:
        """hdrh's V2 encoding (byte for byte), but through one compress buffer type: hdrh made
        a new ctypes array type per buffer size, each a little cyclic garbage (~1 KB a call)."""
        enc = self.encoder
        relevant = self.get_counts_array_index(self.max_value) + 1 if self.total_count else 0
        cpayload = _compress(enc.payload, relevant)
        enc.header.length = len(cpayload)
        header = ctypes.string_at(ctypes.addressof(enc.header), ext_header_size)
        return base64.b64encode(header + cpayload)

    def decode_and_add(self, encoded_histogram: bytes) -> None:
        self.add(Histogram.decode(encoded_histogram, self.b64_wrap))

    @staticmethod
    def decode(encoded_histogram: bytes, b64_wrap: bool = True) -> Histogram:
        hdr_payload = HdrHistogramEncoder.decode(encoded_histogram, b64_wrap)
        payload = hdr_payload.payload
        return Histogram(payload.lowest_trackable_value, payload.highest_trackable_value,
                         payload.significant_figures, hdr_payload=hdr_payload)


_buffer_types: dict[int, Any] = {}  # compress buffer size -> its ctypes array type (one each)


def _compress(payload: Any, counts_limit: int) -> bytes:
    """``HdrPayload.compress`` with a buffer of one size per payload size."""
    size = payload_header_size + payload.counts_len * (payload.word_size + 1)
    buffer_type = _buffer_types.get(size)
    if buffer_type is None:
        buffer_type = _buffer_types[size] = ctypes.c_byte * size
    buf = buffer_type()
    varint_len = pyhdrh.encode(ctypes.addressof(payload.counts), counts_limit,
                               payload.word_size,
                               ctypes.addressof(buf) + payload_header_size,
                               counts_limit * (payload.word_size + 1))
    payload.payload.payload_len = varint_len
    ctypes.memmove(ctypes.addressof(buf), ctypes.addressof(payload.payload),
                   payload_header_size)
    return zlib.compress(ctypes.string_at(buf, payload_header_size + varint_len))


def new_histogram() -> Histogram:
    return Histogram(HIST_MIN_US, HIST_MAX_US, HIST_DIGITS)


# ctypes keeps array types only while something references them: without this, the counts
# array type was created anew (a little cyclic garbage) each time the last histogram died.
_COUNTS_TYPE: Final = type(new_histogram().counts)


class StatsWindow:
    """Counters of one group in one process for the current second.

    Latencies are appended to flat arrays on the hot path (one C call each) and turned into
    HdrHistograms once per second in :meth:`take`: values are first rounded to the histogram's
    precision, so each distinct value is recorded once with its count."""

    __slots__ = ("_actual", "_intended", "done", "errors", "late", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.done = 0
        self.errors = 0
        self.late = 0
        self._intended = array("q")
        self._actual = array("q")

    def record(self, from_intended_ns: int, from_sent_ns: int) -> None:
        """Record one response's latencies (ns in, µs stored)."""
        self._intended.append(from_intended_ns)
        self._actual.append(from_sent_ns)

    def take(self) -> tuple[int, int, int, int, bytes, bytes]:
        """``(sent, done, errors, late, hist_intended, hist_actual)`` and reset."""
        out = (self.sent, self.done, self.errors, self.late,
               histogram_of(self._intended), histogram_of(self._actual))
        self.sent = self.done = self.errors = self.late = 0
        self._intended = array("q")
        self._actual = array("q")
        return out


def histogram_of(latencies_ns: array[int]) -> bytes:
    """The encoded HdrHistogram (µs, clamped to ``HIST_MAX_US``) of ``latencies_ns``."""
    hist = new_histogram()
    if latencies_ns:
        bucket_counts = _bucket_counts_numpy if np is not None else _bucket_counts_python
        for value, count in bucket_counts(latencies_ns):
            hist.record_value(value, count)
    return encode_histogram(hist)


# Values an HdrHistogram cannot tell apart share a bucket: keep 11 significant bits (its
# sub-bucket resolution at 3 digits), then record each distinct value once with its count.
# Both functions give the same pairs; the test pins that.

def _bucket_counts_numpy(latencies_ns: array[int]) -> Iterable[tuple[int, int]]:
    us = np.clip(np.frombuffer(latencies_ns, dtype=np.int64) // 1000, 0, HIST_MAX_US)
    shift = np.maximum(np.floor(np.log2(np.maximum(us, 1))).astype(np.int64) - 10, 0)
    values, counts = np.unique((us >> shift) << shift, return_counts=True)
    return zip(values.tolist(), counts.tolist(), strict=True)


def _bucket_counts_python(latencies_ns: array[int]) -> Iterable[tuple[int, int]]:
    counts: Counter[int] = Counter()
    for ns in latencies_ns:
        us = min(max(ns // 1000, 0), HIST_MAX_US)
        shift = max(us.bit_length() - 11, 0)
        counts[(us >> shift) << shift] += 1
    return sorted(counts.items())


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
