"""Merging the per-process :class:`GroupStats` of one second into one entry per group."""

from __future__ import annotations

from collections import defaultdict

from galileo.load.stats import merge_histograms
from galileo.protocol import GroupStats


def merge_stats(parts: list[GroupStats]) -> list[GroupStats]:
    """Sum counters and merge histograms of entries with the same group id and second."""
    by_gid: dict[tuple[str, int], list[GroupStats]] = defaultdict(list)
    for p in parts:
        by_gid[p.gid, p.second].append(p)
    out = []
    for (gid, _), group in by_gid.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        first = group[0]
        out.append(GroupStats(
            gid=gid, worker=first.worker, second=first.second,
            target_rps=sum(g.target_rps for g in group), sent=sum(g.sent for g in group),
            done=sum(g.done for g in group), errors=sum(g.errors for g in group),
            late=sum(g.late for g in group), inflight=sum(g.inflight for g in group),
            hist_intended=merge_histograms(g.hist_intended for g in group),
            hist_actual=merge_histograms(g.hist_actual for g in group),
        ))
    return out
