"""What an autoscaler observes of one service, read from the bus: the declared replicas, the
ready instances and the CPU each one used (the node agents' reports, measured on the instance's
cgroup over the last heartbeat), and the live per-second stats of the client groups sending to
the service (merged over groups, workers and the seconds of the window: requests sent, p99
latency from the intended send time, requests in flight)."""

from __future__ import annotations

import time
from dataclasses import replace

import msgspec

from galileo.control.galileo import Galileo
from galileo.control.stats import SecondStats, merge
from galileo.events import as_bytes
from galileo.protocol import (
    GroupStats,
    InstanceState,
    ServiceSpec,
    StatsField,
    decode_group_stats,
)

from .policies import Observation

__all__ = ["STALE_S", "observe", "window_stats"]

STALE_S = 3  # live stats older than this many seconds count as missing


def observe(g: Galileo, spec: ServiceSpec, t_s: float, window_s: int) -> Observation:
    """One :class:`Observation` of ``spec``'s service now (``t_s``: the autoscaler's clock)."""
    instances = g.services.instances(spec.name)
    ready = [i for i in instances if i.state == InstanceState.READY]
    cpu_used = tuple(i.cpu_used for i in ready if i.cpu_used is not None)
    groups = [grp for grp in g.groups() if grp.info.service == spec.name]
    base = Observation(t_s=t_s, replicas=spec.replicas, ready=len(ready),
                       cpu_request=spec.cpus, cpu_used=cpu_used, groups=len(groups))
    if not groups:
        return replace(base, missing=f"no client group sends to {spec.name!r}")
    entries: list[GroupStats] = []
    for grp in groups:
        entries += _entries(g, grp.gid, window_s + STALE_S, len(grp.workers))
    seconds, merged, why = window_stats(entries, window_s, int(time.time()))
    if merged is None:
        return replace(base, missing=why.format(service=spec.name))
    return replace(base, stats_seconds=seconds, rps=merged.sent / seconds,
                 p99_ms=merged.from_intended.p99_ms, inflight=merged.inflight / seconds,
                 missing="" if merged.from_intended.p99_ms is not None else
                 f"no request to {spec.name!r} completed in the last {seconds} s")


def window_stats(entries: list[GroupStats], window_s: int, now_s: int
                 ) -> tuple[int, SecondStats | None, str]:
    """The newest ``window_s`` seconds (not older than ``STALE_S``) of ``entries`` merged into
    one :class:`~galileo.control.stats.SecondStats` (counters summed over the seconds), with
    how many seconds it holds; ``(0, None, why)`` when there are none."""
    fresh = sorted({e.second for e in entries if e.second >= now_s - STALE_S})[-window_s:]
    if not fresh:
        return 0, None, "no live stats from the client groups of {service!r} in the last " \
            f"{STALE_S} s"
    keep = set(fresh)
    rows = merge(msgspec.structs.replace(e, second=0) for e in entries if e.second in keep)
    return len(fresh), rows[0], ""


def _entries(g: Galileo, gid: str, seconds: int, n_workers: int) -> list[GroupStats]:
    count = (seconds + 2) * max(n_workers, 1) + 16
    raw = g.redis.xrevrange(g.keys.group_stats(gid), count=count) or []
    out = []
    for _id, fields in raw:
        data = (fields or {}).get(StatsField)
        if data is None:
            continue
        try:
            entry = decode_group_stats(as_bytes(data))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if entry.gid == gid:
            out.append(entry)
    return out
