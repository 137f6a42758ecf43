"""Live view of a running experiment, aggregated on the server from the workers' per-second
stats streams (the browser never sees a trace).

One :class:`LiveHub` per app keeps, per experiment, the stream position of each client group and
per (service, second) sums and a merged HdrHistogram; each tick reads only the entries added
since the last one, so the cost per tick is proportional to the new seconds (workers × groups),
not to the window. A snapshot is built at most once per :data:`TICK_S` and shared by every
connected browser as one JSON string.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from hdrh.histogram import HdrHistogram

from galileo.analysis.autoscale import ScaleDecision, replica_timeline
from galileo.analysis.counts import request_counts, run_outcome
from galileo.analysis.report.figures import (
    COLOURS,
    empty,
    layout,
    rate_traces,
    replicas_figure,
    series,
    with_events,
)
from galileo.analysis.report.runs import recent_errors, run_events, telemetry_series
from galileo.control import ClientGroup, Galileo
from galileo.errors import BusError
from galileo.events import as_bytes
from galileo.protocol import GroupStats, StatsField, decode_group_stats
from galileo.recorder.backlog import ALERT_AGE_S, ALERT_CAP_SHARE, read_stream
from galileo.storage import ExpDB, Experiment

log = logging.getLogger(__name__)
TICK_S: Final = 0.5
WINDOW_S: Final = 300  # seconds of history a live chart shows
BACKFILL_S: Final = 30  # seconds of history read when a run is first opened
MAX_ENTRIES_PER_TICK: Final = 3000  # stats entries decoded per tick (all groups together)
SETTLED_S: Final = 3  # a second older than this gets no more worker entries
PCTS: Final = (50.0, 95.0, 99.0)
HEADLINE_S: Final = 10  # the headline strip's rates and error share: the last 10 s
DECISIONS_SHOWN: Final = 20  # the newest autoscale decisions in the table
NS_PER_S: Final = 1_000_000_000


@dataclass
class _Second:
    target: float = 0.0
    sent: int = 0
    errors: int = 0
    late: int = 0
    inflight: int = 0
    hist: HdrHistogram | None = None
    pcts: tuple[float | None, ...] | None = None  # cached once settled

    def add(self, e: GroupStats, h: HdrHistogram | None) -> None:
        self.target += e.target_rps
        self.sent += e.sent
        self.errors += e.errors
        self.late += e.late
        self.inflight += e.inflight
        if h is not None:
            if self.hist is None:
                self.hist = HdrHistogram.decode(e.hist_intended)  # a copy: h is reused
            else:
                self.hist.add(h)
        self.pcts = None

    def percentiles(self, settled: bool) -> tuple[float | None, ...]:
        if self.pcts is not None:
            return self.pcts
        h = self.hist
        out = tuple(None if h is None or h.get_total_count() == 0
                    else round(h.get_value_at_percentile(p) / 1000.0, 3) for p in PCTS)
        if settled:
            self.pcts = out
            self.hist = None  # no more entries will come: keep only the numbers
        return out


@dataclass
class _Worker:
    second: int
    group: str
    sent: int
    errors: int
    inflight: int
    p99_ms: float | None


@dataclass
class _RunState:
    cursors: dict[str, str] = field(default_factory=dict)  # gid -> last stream id read
    seconds: dict[tuple[str, int], _Second] = field(default_factory=dict)
    workers: dict[tuple[str, str], _Worker] = field(default_factory=dict)
    snapshot: str = ""
    built: float = 0.0
    bad_logged: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class LiveHub:
    """Per-experiment live state, shared by all connections of one app."""

    def __init__(self) -> None:
        self._runs: dict[str, _RunState] = {}
        self._lock = threading.Lock()

    def snapshot(self, g: Galileo, db: ExpDB, exp: Experiment) -> str:
        """The JSON snapshot of ``exp`` (rebuilt when older than :data:`TICK_S`)."""
        with self._lock:
            state = self._runs.setdefault(exp.id, _RunState())
        with state.lock:
            now = time.monotonic()
            if now - state.built >= TICK_S or not state.snapshot:
                state.snapshot = json.dumps(self._build(state, g, db, exp),
                                            separators=(",", ":"))
                state.built = now
            return state.snapshot

    def forget(self, exp_id: str) -> None:
        with self._lock:
            self._runs.pop(exp_id, None)

    # ------------------------------------------------------------------ reading
    def _read(self, state: _RunState, g: Galileo, group: ClientGroup, budget: int) -> None:
        key = g.keys.group_stats(group.gid)
        cursor = state.cursors.get(group.gid)
        if cursor is None:  # start with the recent past only; the window fills up as it runs
            n = (BACKFILL_S + 2) * max(len(group.workers), 1)
            raw = list(reversed(g.redis.xrevrange(key, count=min(n, budget)) or []))
        else:  # at most ``budget`` entries per tick: a tick never takes long, even far behind
            raw = g.redis.xrange(key, min=f"({cursor}", count=budget) or []
        for entry_id, fields in raw:
            state.cursors[group.gid] = as_bytes(entry_id).decode()
            data = (fields or {}).get(StatsField)
            try:
                e = decode_group_stats(as_bytes(data)) if data is not None else None
            except (msgspec.DecodeError, msgspec.ValidationError):
                e = None
            if e is None or e.gid != group.gid:
                if not state.bad_logged:
                    log.warning("skipping a malformed stats entry %s in %s", entry_id, key)
                    state.bad_logged = True
                continue
            h = HdrHistogram.decode(e.hist_intended) if e.hist_intended else None
            state.seconds.setdefault((group.service, e.second), _Second()).add(e, h)
            prev = state.workers.get((e.worker, e.gid))
            if prev is None or prev.second <= e.second:
                p99 = None
                if h is not None and h.get_total_count():
                    p99 = round(h.get_value_at_percentile(99.0) / 1000.0, 3)
                state.workers[(e.worker, e.gid)] = _Worker(e.second, e.gid, e.sent, e.errors,
                                                           e.inflight, p99)

    # ------------------------------------------------------------------ building
    def _build(self, state: _RunState, g: Galileo, db: ExpDB, exp: Experiment) -> dict[str, Any]:
        groups = run_groups(g, exp.id)
        budget = max(MAX_ENTRIES_PER_TICK // max(len(groups), 1), 1)
        for group in groups:
            try:
                self._read(state, g, group, budget)
            except BusError as e:
                log.warning("live stats of %s: %s", group.gid, e)
        now_s = int(time.time())
        oldest = now_s - WINDOW_S
        for key in [k for k in state.seconds if k[1] < oldest]:
            del state.seconds[key]
        t0 = int(exp.start) if exp.start else (min((k[1] for k in state.seconds), default=now_s))
        services = sorted({k[0] for k in state.seconds} | {grp.service for grp in groups})
        rate, latency, table = [], [], []
        recent = _Second()  # the last HEADLINE_S complete seconds, all services
        for i, service in enumerate(services):
            secs = sorted((k[1], v) for k, v in state.seconds.items() if k[0] == service)
            xs = [s - t0 for s, _ in secs]
            colour = COLOURS[i % len(COLOURS)]
            pct = [v.percentiles(now_s - s > SETTLED_S) for s, v in secs]
            rate += rate_traces(service, colour, xs, [v.sent for _, v in secs],
                                [v.errors for _, v in secs])
            rate.append(series(f"{service} target", [x + 0.5 for x in xs],
                               [round(v.target, 3) for _, v in secs], colour, "req/s", "dash", 1))
            for j, (p, dash) in enumerate(zip(PCTS, ("dot", "dash", "solid"), strict=True)):
                latency.append(series(f"{service} p{p:g}", [x + 0.5 for x in xs],
                                      [q[j] for q in pct], colour, "ms", dash, 3))
            for s, v in secs:
                if now_s - HEADLINE_S - 1 <= s < now_s - 1:
                    recent.target += v.target
                    recent.sent += v.sent
                    recent.errors += v.errors
            if secs:
                s, v = secs[-1]
                table.append({"service": service, "second": s - t0, "target": round(v.target, 2),
                              "sent": v.sent, "errors": v.errors, "late": v.late,
                              "inflight": v.inflight, "p50_ms": pct[-1][0],
                              "p95_ms": pct[-1][1], "p99_ms": pct[-1][2]})
        events = run_events(db, exp.id, t0 * NS_PER_S)
        span = float(now_s - t0)
        keep = {"uirevision": exp.id}  # plotly keeps the user's zoom and hidden series
        figures = {
            "rate": with_events({"data": rate, "layout": layout(
                "Rate: target, sent and errors (live)", "time (s)", "requests per second",
                **keep)}, events, span),
            "latency": with_events(empty({"data": latency, "layout": layout(
                "Latency from the intended send time (live)", "time (s)", "ms", **keep)},
                "no successful responses yet"),
                events, span),
        }
        replicas = replica_timeline(db.events(exp.id), t0 * NS_PER_S)
        fig = replicas_figure(replicas, events, span, **keep)
        if fig is not None:
            figures["replicas"] = {**fig, "after": "latency"}  # placed next to rate, latency
        for metric, found in _telemetry_by_metric(db, exp.id, t0 * NS_PER_S).items():
            figures[f"telemetry-{metric}"] = {"data": [
                series(s["node"], s["t"], s["v"], COLOURS[i % len(COLOURS)], s["unit"])
                for i, s in enumerate(found)], "layout": layout(
                    f"{found[0]['label']} per node", "time (s)", found[0]["unit"], **keep)}
        counts = request_counts(db, [exp.id], (now_s - HEADLINE_S) * NS_PER_S)[exp.id]
        names = group_names(groups)
        backlog = trace_backlog(g)
        return {
            "exp_id": exp.id, "status": exp.status.value, "stage": exp.stage,
            "progress": exp.progress, "now": now_s - t0, "figures": figures,
            "outcome": run_outcome(exp.status.value, counts, None, HEADLINE_S).reason,
            "headline": {"seconds": HEADLINE_S, "sent_rps": recent.sent / HEADLINE_S,
                         "target_rps": recent.target / HEADLINE_S,
                         "errors_rps": recent.errors / HEADLINE_S,
                         "requests": counts.requests, "failed": counts.failed,
                         "error_rate": counts.error_rate,
                         "pcts": [table[0][k] for k in ("p50_ms", "p95_ms", "p99_ms")]
                         if len(table) == 1 else None,
                         "backlog": backlog},
            "services": table,
            "workers": [{"worker": w, "group": k, "name": names.get(k, k),
                         "second": v.second - t0, "sent": v.sent, "errors": v.errors,
                         "inflight": v.inflight, "p99_ms": v.p99_ms, "age_s": now_s - v.second}
                        for (w, k), v in sorted(state.workers.items())],
            "groups": [{"gid": grp.gid, "name": names[grp.gid], "service": grp.service,
                        "rps": grp.info.rps, "paused": grp.info.paused,
                        "workers": len(grp.workers), "clients": len(grp.clients)}
                       for grp in groups],
            "errors": recent_errors(db, exp.id, (now_s - 60) * NS_PER_S),
            "autoscale": recent_decisions([d for s in replicas.values() for d in s.decisions]),
        }


def recent_decisions(decisions: list[ScaleDecision], n: int = DECISIONS_SHOWN
                     ) -> list[dict[str, Any]]:
    """The newest ``n`` autoscale decisions, newest first, as table rows."""
    newest = sorted(decisions, key=lambda d: d.t_s, reverse=True)[:n]
    return [{"t_s": round(d.t_s, 1), "service": d.service, "action": d.action,
             "replicas_from": d.replicas_from, "replicas_to": d.replicas_to, "ready": d.ready,
             "metric": d.metric, "observed": d.observed, "target": d.target,
             "reason": d.reason} for d in newest]


def trace_backlog(g: Galileo) -> dict[str, Any] | None:
    """The traces waiting for the recorder (entries, oldest age, the cap, whether that is
    the recorder falling behind), or None when Redis cannot tell right now."""
    cap = g.settings.trace_backlog_max_entries
    try:
        b = read_stream(g.redis, "traces", g.keys.traces)
    except BusError:
        return None
    age = b.oldest_age_s or 0.0
    return {"entries": b.entries, "oldest_age_s": round(age, 1), "cap": cap,
            "behind": age >= ALERT_AGE_S or b.entries >= ALERT_CAP_SHARE * cap}


def group_names(groups: list[ClientGroup]) -> dict[str, str]:
    """What a person reads for each group: its service, numbered when several groups load the
    same service (the group id goes in a tooltip)."""
    seen: dict[str, int] = {}
    for grp in groups:
        seen[grp.service] = seen.get(grp.service, 0) + 1
    count: dict[str, int] = {}
    out = {}
    for grp in sorted(groups, key=lambda g: (g.info.created_ns, g.gid)):
        count[grp.service] = count.get(grp.service, 0) + 1
        out[grp.gid] = grp.service if seen[grp.service] == 1 else \
            f"{grp.service} #{count[grp.service]}"
    return out


def run_groups(g: Galileo, exp_id: str) -> list[ClientGroup]:
    """The live client groups of ``exp_id`` (tagged with it, or untagged while it is current)."""
    current = g.experiment.current()
    return [grp for grp in g.groups()
            if grp.info.exp_id == exp_id or (grp.info.exp_id is None and current == exp_id)]


def _telemetry_by_metric(db: ExpDB, exp_id: str, t0_ns: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in telemetry_series(db, exp_id, t0_ns):
        out.setdefault(s["metric"], []).append(s)
    return out
