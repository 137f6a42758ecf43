"""Throughput and latency of one client group over whole wall-clock seconds, from the per-second
stats every worker publishes (``Keys.group_stats``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from galileo.bus import Bus
from galileo.load.stats import decode_histogram, merge_histograms
from galileo.protocol import GroupStats, Keys, StatsField, decode_group_stats

STATS_WAIT_S: Final = 5.0  # how long the last second's stats may take to arrive


@dataclass(frozen=True)
class Measurement:
    """Completed requests per second and latency percentiles (seconds) over the window."""

    rps: float
    p50_s: float
    p99_s: float
    done: int
    errors: int
    sent: int = 0  # requests the generator sent in the window
    inflight: float = 0.0  # requests in flight at the end of each second, mean over the window


def _entries(client: Bus, keys: Keys, gid: str) -> list[GroupStats]:
    raw: Any = client.xrange(keys.group_stats(gid))
    out = []
    for _, fields in raw or []:
        data = (fields or {}).get(StatsField)
        if data is None:
            continue
        try:
            out.append(decode_group_stats(data))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return [e for e in out if e.gid == gid]


def measure_group(client: Bus, keys: Keys, gid: str, start_s: int,
                  end_s: int) -> Measurement:
    """Stats of seconds ``start_s <= s < end_s`` (waits up to ``STATS_WAIT_S`` for the last)."""
    deadline = time.monotonic() + STATS_WAIT_S
    entries = _entries(client, keys, gid)
    while not any(e.second >= end_s - 1 for e in entries) and time.monotonic() < deadline:
        time.sleep(0.1)  # stats are flushed once per second; nothing to subscribe to
        entries = _entries(client, keys, gid)
    window = [e for e in entries if start_s <= e.second < end_s]
    done = sum(e.done for e in window)
    hist = decode_histogram(merge_histograms(e.hist_actual for e in window))
    if hist.get_total_count():
        p50 = hist.get_value_at_percentile(50.0) / 1e6
        p99 = hist.get_value_at_percentile(99.0) / 1e6
    else:
        p50 = p99 = float("nan")
    return Measurement(rps=done / max(end_s - start_s, 1), p50_s=p50, p99_s=p99, done=done,
                       errors=sum(e.errors for e in window), sent=sum(e.sent for e in window),
                       inflight=sum(e.inflight for e in window) / max(len(window), 1))
