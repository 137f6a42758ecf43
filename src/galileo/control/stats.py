"""Merge per-worker :class:`~galileo.protocol.GroupStats` into one row per wall-clock second."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
from hdrh.histogram import HdrHistogram

from galileo.bus import Bus
from galileo.events import as_bytes
from galileo.protocol import GroupStats, Keys, StatsField, decode_group_stats
from galileo.tables import Table

PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class Latency:
    """Latency percentiles in milliseconds (``None`` when nothing completed)."""

    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def of(cls, hist: HdrHistogram | None) -> Latency:
        if hist is None or hist.get_total_count() == 0:
            return cls()
        p50, p90, p99 = (hist.get_value_at_percentile(p) / 1000.0 for p in PERCENTILES)
        return cls(p50, p90, p99, hist.get_max_value() / 1000.0)


@dataclass(frozen=True)
class SecondStats:
    """One group during one wall-clock second, summed over its workers."""

    second: int
    workers: list[str]
    target_rps: float
    sent: int
    done: int
    errors: int
    late: int
    inflight: int
    from_intended: Latency = field(default_factory=Latency)
    from_actual: Latency = field(default_factory=Latency)

    @property
    def achieved_rps(self) -> float:
        """Requests sent during this second."""
        return float(self.sent)


def _add(acc: HdrHistogram | None, raw: bytes) -> HdrHistogram | None:
    if not raw:
        return acc
    hist = HdrHistogram.decode(raw)
    if acc is None:
        return hist
    acc.add(hist)
    return acc


def merge(entries: Iterable[GroupStats]) -> list[SecondStats]:
    """One :class:`SecondStats` per second (ascending); histograms are decoded and added."""
    by_second: dict[int, list[GroupStats]] = {}
    for e in entries:
        by_second.setdefault(e.second, []).append(e)
    rows = []
    for second in sorted(by_second):
        parts = by_second[second]
        h_int: HdrHistogram | None = None
        h_act: HdrHistogram | None = None
        for p in parts:
            h_int = _add(h_int, p.hist_intended)
            h_act = _add(h_act, p.hist_actual)
        rows.append(SecondStats(
            second=second, workers=sorted({p.worker for p in parts}),
            target_rps=sum(p.target_rps for p in parts), sent=sum(p.sent for p in parts),
            done=sum(p.done for p in parts), errors=sum(p.errors for p in parts),
            late=sum(p.late for p in parts), inflight=sum(p.inflight for p in parts),
            from_intended=Latency.of(h_int), from_actual=Latency.of(h_act)))
    return rows


def read_stats(client: Bus, keys: Keys, gid: str, seconds: int,
               n_workers: int) -> list[SecondStats]:
    """The newest ``seconds`` merged seconds from ``keys.group_stats(gid)``."""
    wanted = max(seconds, 1)
    count = (wanted + 2) * max(n_workers, 1) + 16
    raw = client.xrevrange(keys.group_stats(gid), count=count) or []
    entries = []
    for _id, fields in raw:
        data = (fields or {}).get(StatsField)
        if data is None:
            continue
        try:
            entries.append(decode_group_stats(as_bytes(data)))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    entries = [e for e in entries if e.gid == gid]
    newest = sorted({e.second for e in entries})[-wanted:]
    keep = set(newest)
    return merge(e for e in entries if e.second in keep)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def stats_table(rows: Sequence[SecondStats], title: str = "group stats") -> Table:
    """A rich table of merged seconds."""
    table = Table(title=title)
    for col in ("second", "target", "sent", "done", "errors", "late", "inflight",
                "p50 ms", "p99 ms", "max ms", "p50 ms (sent)", "p99 ms (sent)"):
        table.add_column(col, justify="right")
    for r in rows:
        i, a = r.from_intended, r.from_actual
        table.add_row(str(r.second), f"{r.target_rps:g}", str(r.sent), str(r.done),
                      str(r.errors), str(r.late), str(r.inflight), _ms(i.p50_ms), _ms(i.p99_ms),
                      _ms(i.max_ms), _ms(a.p50_ms), _ms(a.p99_ms))
    return table
