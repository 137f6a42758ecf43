"""Stats merging: two synthetic workers' GroupStats entries written to the real stream."""

from __future__ import annotations

import redis
from hdrh.histogram import HdrHistogram

from galileo.control import Galileo
from galileo.control.group import ClientGroup
from galileo.control.placement import place_least_loaded, split_count, split_rate
from galileo.protocol import ArrivalSpec, GroupInfo, GroupStats, RequestSpec, StatsField, encode


def _hist(values_us: list[int]) -> bytes:
    h = HdrHistogram(1, 60_000_000, 3)
    for v in values_us:
        h.record_value(v)
    return bytes(h.encode())


def _entry(worker: str, second: int, sent: int, lat_us: list[int]) -> GroupStats:
    return GroupStats(gid="g1", worker=worker, second=second, target_rps=sent, sent=sent,
                      done=len(lat_us), errors=1, late=0, inflight=2,
                      hist_intended=_hist([v + 1000 for v in lat_us]), hist_actual=_hist(lat_us))


def test_stats_merged_per_second(g: Galileo, raw: redis.Redis) -> None:
    info = GroupInfo(gid="g1", service="api", placement={"w1": ["c1"], "w2": ["c2"]},
                     request=RequestSpec(), arrival=ArrivalSpec())
    group = ClientGroup(g, info)
    key = g.keys.group_stats("g1")
    for second in (100, 101, 102):
        raw.xadd(key, {StatsField: encode(_entry("w1", second, 10, [1000] * 9 + [50_000]))})
        raw.xadd(key, {StatsField: encode(_entry("w2", second, 5, [3000] * 10))})
    raw.xadd(key, {StatsField: b"garbage"})  # skipped, not fatal
    rows = group.stats(seconds=2)
    assert [r.second for r in rows] == [101, 102]
    row = rows[-1]
    assert row.workers == ["w1", "w2"]
    assert (row.target_rps, row.sent, row.achieved_rps, row.done, row.errors, row.inflight) == (
        15, 15, 15.0, 20, 2, 4)
    act, intended = row.from_actual, row.from_intended
    # merged: 9 x 1 ms + 1 x 50 ms (w1) and 10 x 3 ms (w2)
    assert act.p50_ms is not None and 2.99 < act.p50_ms < 3.01
    assert act.p90_ms is not None and 2.99 < act.p90_ms < 3.01
    assert act.p99_ms is not None and 49.9 < act.p99_ms < 50.1
    assert act.max_ms is not None and 49.9 < act.max_ms < 50.1
    assert intended.p50_ms is not None and 3.99 < intended.p50_ms < 4.01
    assert group.stats(seconds=10)[0].second == 100


def test_placement_arithmetic() -> None:
    assert place_least_loaded({"a": 2, "b": 0}, 4) == {"a": 1, "b": 3}
    assert place_least_loaded({"a": 0, "b": 0}, 1) == {"a": 1}
    assert split_rate(10, {"a": 1, "b": 4}) == {"a": 2.0, "b": 8.0}
    assert split_count(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert sum(split_count(7, {"a": 3, "b": 5}).values()) == 7
