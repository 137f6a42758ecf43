"""One run, aggregated for reports and the dashboard: per service and second, per worker and
host, errors by kind, telemetry per node, events and thresholds.

Traces are read with one query of a few columns (:func:`galileo.storage.reads.packed_traces`)
into numpy arrays (no per-row Python), then turned into histograms (:mod:`.hist`); nothing per
request survives the aggregation, so a run of a million traces costs a few MB. Latency is
measured from the *intended* send time (``done_ns - intended_ns``) of requests that got an
answer; a request counts as an error when it has an error text or a status outside 200-399.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from galileo.analysis.autoscale import (
    AutoscaleMetrics,
    ReplicaSeries,
    evaluate,
    replica_timeline,
)
from galileo.analysis.counts import (
    order_rank,
    request_counts,
    thresholds_passed,
    unsent_per_second,
)
from galileo.errors import NotFoundError
from galileo.storage import ExpDB, Experiment, jobs, reads

from . import hist

NS_PER_S: Final = 1_000_000_000
PERCENTILES: Final = (50.0, 95.0, 99.0)
FETCH_ROWS: Final = 100_000
TELEMETRY_METRICS: Final = {"cpu": ("cpu", "%"), "ram": ("memory used", "bytes"),
                            "rx": ("network in", "bytes/s"), "tx": ("network out", "bytes/s")}


@dataclass
class Breakdown:
    """Requests, errors and a latency histogram per name (worker, host, service)."""

    names: list[str]
    requests: np.ndarray
    errors: np.ndarray
    hists: np.ndarray  # (len(names), N_BUCKETS)

    def rows(self) -> list[dict[str, Any]]:
        pct = hist.percentiles(self.hists, list(PERCENTILES)) if self.names else np.empty((0, 3))
        return [{"name": n, "requests": int(r), "errors": int(e),
                 "error_rate": (e / r) if r else 0.0,
                 **{f"p{int(p)}_ms": _num(pct[i, j]) for j, p in enumerate(PERCENTILES)}}
                for i, (n, r, e) in enumerate(zip(self.names, self.requests, self.errors,
                                                  strict=True))]


@dataclass
class ServiceSeries:
    """One service, second by second (index = seconds since the run's first intended send)."""

    service: str
    sent: np.ndarray  # requests per second
    errors: np.ndarray
    hists: np.ndarray  # (seconds, N_BUCKETS)
    target: list[tuple[float, float]] = field(default_factory=list)  # (t_s, rps) breakpoints
    unsent: np.ndarray | None = None  # requests per second that never left the worker

    @property
    def sent_out(self) -> np.ndarray:
        """Requests per second that left the worker (``sent`` counts every request)."""
        return self.sent if self.unsent is None else self.sent - self.unsent

    @property
    def total(self) -> IntHist:
        out: IntHist = self.hists.sum(axis=0)
        return out

    def percentile_series(self) -> np.ndarray:
        """(seconds, len(PERCENTILES)) in ms, NaN where nothing completed."""
        return hist.percentiles(self.hists, list(PERCENTILES))


IntHist = np.ndarray


@dataclass
class RunData:
    """Everything a report shows about one experiment."""

    exp_id: str
    experiment: Experiment | None
    t0_ns: int
    seconds: int
    services: list[ServiceSeries]
    workers: Breakdown
    hosts: Breakdown
    errors_by_kind: list[dict[str, Any]]
    telemetry: list[dict[str, Any]]  # {node, metric, label, unit, t: [...], v: [...]}
    events: list[dict[str, Any]]  # {t_s, kind, name, text}
    verdicts: list[str]
    thresholds_passed: bool | None
    totals: dict[str, Any] = field(default_factory=dict)  # run_totals(): counts, exact p99
    replicas: dict[str, ReplicaSeries] = field(default_factory=dict)  # from autoscale events

    @property
    def requests(self) -> int:
        return int(sum(s.sent.sum() for s in self.services))

    @property
    def error_count(self) -> int:
        return int(sum(s.errors.sum() for s in self.services))

    @property
    def total_hist(self) -> IntHist:
        out: IntHist = np.zeros(hist.N_BUCKETS, dtype=np.int64)
        for s in self.services:
            out = out + s.total
        return out

    def autoscale_metrics(self, slo_ms: float, service: str | None = None, *,
                          start_s: float = 0.0, end_s: float | None = None,
                          step_s: float | None = None) -> AutoscaleMetrics:
        """The autoscaler evaluation of ``service`` (default: the first with replicas, else the
        first loaded) over ``[start_s, end_s)`` of this run: see
        :func:`galileo.analysis.autoscale.evaluate`."""
        names = [s.service for s in self.services]
        name = service or next((n for n in self.replicas if n in names), None) or (
            names[0] if names else "")
        s = next((x for x in self.services if x.service == name), None)
        if s is None:
            raise NotFoundError(f"run {self.exp_id} sent nothing to service {name!r} "
                                f"(services: {', '.join(names) or 'none'})")
        return evaluate(s.sent.tolist(), _clean_p99(s), s.target, self.replicas.get(name),
                        slo_ms, service=name, start_s=start_s, end_s=end_s, step_s=step_s)

    @property
    def title(self) -> str:
        name = self.experiment.name if self.experiment is not None else ""
        return f"{name} ({self.exp_id})" if name else self.exp_id


def _clean_p99(s: ServiceSeries) -> list[float | None]:
    return [_num(v) for v in s.percentile_series()[:, PERCENTILES.index(99.0)]]


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _fetch(db: ExpDB, exp_id: str, t0_ns: int) -> dict[str, np.ndarray]:
    """Per trace: second, latency (µs), answered, failed, and service/worker/host codes
    (unpacked from :func:`galileo.storage.reads.packed_traces`, chunk by chunk)."""
    names = reads.trace_dimensions(db, exp_id)
    n_w, n_h = len(names["worker"]), len(names["host"])
    n_keys = len(names["service"]) * n_w * n_h
    parts = [np.array(chunk, dtype=np.int64)
             for chunk in reads.packed_traces(db, exp_id, t0_ns, names, FETCH_ROWS)]
    if not parts:
        return {}
    both = np.concatenate(parts)
    rest, combo = np.divmod(both[:, 1], n_keys)
    second_arr, flag = np.divmod(rest, 4)
    svc_worker, host = np.divmod(combo, n_h)
    service, worker = np.divmod(svc_worker, n_w)
    out = {"second": second_arr, "latency_us": both[:, 0], "answered": (flag & 1).astype(bool),
           "failed": flag >> 1, "service": service, "worker": worker, "host": host}
    for dim, values in names.items():
        out[dim + "_names"] = np.asarray(values, dtype=object)
    return out


def _breakdown(cols: dict[str, np.ndarray], key: str, latency_ms: np.ndarray) -> Breakdown:
    names = [str(n) for n in cols[key + "_names"]]
    code, n = cols[key], len(names)
    return Breakdown(names, np.bincount(code, minlength=n).astype(np.int64),
                     np.bincount(code, weights=cols["failed"], minlength=n).astype(np.int64),
                     hist.histograms(code, n, latency_ms))


def _errors_by_kind(db: ExpDB, exp_id: str, since_ns: int | None = None
                    ) -> list[dict[str, Any]]:
    out: dict[tuple[str, str], int] = {}
    for service, error, status, n in reads.error_counts(db, exp_id, since_ns):
        kind = (error or "").split(":")[0][:80] if error else f"HTTP {status}"
        out[(service, kind)] = out.get((service, kind), 0) + int(n)
    return [{"service": s, "kind": k, "count": n}
            for (s, k), n in sorted(out.items(), key=lambda kv: -kv[1])]


def recent_errors(db: ExpDB, exp_id: str, since_ns: int) -> list[dict[str, Any]]:
    """Errors by service and kind among the traces of ``exp_id`` sent since ``since_ns``."""
    return _errors_by_kind(db, exp_id, since_ns)


def telemetry_series(db: ExpDB, exp_id: str, t0_ns: int) -> list[dict[str, Any]]:
    """CPU, memory and network (summed over interfaces) per node; ``t`` in s since ``t0_ns``."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for node, metric, ts_ns, value in reads.report_telemetry(db, exp_id):
        label, unit = TELEMETRY_METRICS[metric]
        s = series.setdefault((node, metric), {"node": node, "metric": metric, "label": label,
                                               "unit": unit, "t": [], "v": []})
        s["t"].append((ts_ns - t0_ns) / NS_PER_S)
        s["v"].append(value)
    return [series[k] for k in sorted(series)]


def run_events(db: ExpDB, exp_id: str, t0_ns: int) -> list[dict[str, Any]]:
    """Events to annotate charts with: ``{t_s, kind, name, text}`` in time order."""
    return [{"t_s": (int(e["ts_ns"]) - t0_ns) / NS_PER_S, "kind": str(e["kind"]),
             "name": e["name"], "text": _event_text(e)} for e in db.events(exp_id)
            if str(e["kind"]) != "threshold"]


def _event_text(e: dict[str, Any]) -> str:
    """What a person reads about an event: service names, not group ids."""
    data = e.get("data") or {}
    kind = str(e["kind"])
    who = str(data.get("service") or e["name"])
    rps = data.get("rps")
    if kind == "group_rate":
        ramp = float(data.get("ramp_s") or 0)
        return (f"{who}: rate → {rps:g}/s" + (f" (ramp {ramp:g} s)" if ramp else "")
                if isinstance(rps, int | float) else f"{who}: rate changed")
    if kind == "group_spawn":
        return f"{who}: started" + (f" at {rps:g}/s" if isinstance(rps, int | float) else "")
    if kind in ("group_close", "group_pause", "group_resume"):
        return f"{who}: " + {"group_close": "stopped", "group_pause": "paused",
                             "group_resume": "resumed"}[kind]
    if kind == "autoscale":
        return (f"{who}: {data.get('action', 'decision')} {data.get('replicas_from')} → "
                f"{data.get('replicas_to')} ({data.get('reason', '')})")
    if kind == "routing_set":
        hosts = data.get("hosts") or []
        return f"routing {e['name']}: {len(hosts)} host(s)"
    return f"{kind.replace('_', ' ')} {e['name']}".strip()


_TARGET_KINDS: Final = ("group_spawn", "group_rate", "group_close", "group_pause",
                        "group_resume")


def _targets(events: list[dict[str, Any]], t0_ns: int) -> dict[str, list[tuple[float, float]]]:
    """Planned rate per service from the group spawn/rate/pause/resume/close events (ramps are
    linear; a paused group plans 0 until it resumes)."""
    per_group: dict[str, tuple[str, float, bool]] = {}  # gid -> service, rps, paused
    out: dict[str, list[tuple[float, float]]] = {}

    def emit(service: str, t_s: float, ramp_s: float) -> None:
        total = sum(r for s, r, paused in per_group.values() if s == service and not paused)
        pts = out.setdefault(service, [])
        prev = pts[-1][1] if pts else 0.0
        pts.append((t_s, prev))
        pts.append((t_s + ramp_s, total))

    for e in events:
        kind, data = str(e["kind"]), e.get("data") or {}
        service = data.get("service")
        if kind not in _TARGET_KINDS or not service:
            continue
        t_s = (int(e["ts_ns"]) - t0_ns) / NS_PER_S
        _, rps, paused = per_group.get(e["name"], (service, 0.0, False))
        if kind == "group_close":
            rps = 0.0
        elif kind in ("group_spawn", "group_rate"):
            rps = float(data.get("rps") or 0.0)
        else:
            paused = kind == "group_pause"
        per_group[e["name"]] = (service, rps, paused)
        emit(service, t_s, float(data.get("ramp_s") or 0.0) if kind == "group_rate" else 0.0)
    return out


def load_run(db: ExpDB, exp_id: str) -> RunData:
    """Aggregate the run ``exp_id`` (``NotFoundError`` when the expdb knows nothing of it)."""
    experiment = db.get_experiment(exp_id)
    first = reads.first_intended_ns(db, exp_id)
    t0_ns = first if first is not None else 0
    cols = _fetch(db, exp_id, t0_ns) if first is not None else {}
    errors = _errors_by_kind(db, exp_id) if cols else []
    meta = jobs.get_metadata(db, exp_id)
    events = db.events(exp_id)
    if experiment is None and not cols and not events:
        raise NotFoundError(f"unknown experiment {exp_id!r}")
    if first is None:
        t0_ns = int(experiment.start * NS_PER_S) if experiment and experiment.start else (
            int(events[0]["ts_ns"]) if events else 0)
    services, seconds = _services(cols, _targets(events, t0_ns))
    unsent = unsent_per_second(db, exp_id, t0_ns, seconds, [s.service for s in services])
    for s in services:
        s.unsent = unsent[s.service]
    latency = _latency_ms(cols)
    empty = Breakdown([], np.zeros(0, np.int64), np.zeros(0, np.int64),
                      np.zeros((0, hist.N_BUCKETS), np.int64))
    verdicts = meta.get("verdicts") or []
    return RunData(
        exp_id=exp_id, experiment=experiment, t0_ns=t0_ns, seconds=seconds, services=services,
        workers=_breakdown(cols, "worker", latency) if cols else empty,
        hosts=_breakdown(cols, "host", latency) if cols else empty, errors_by_kind=errors,
        telemetry=telemetry_series(db, exp_id, t0_ns), events=run_events(db, exp_id, t0_ns),
        verdicts=[str(v) for v in verdicts],
        thresholds_passed=meta.get("thresholds_passed") if verdicts else None,
        totals={"counts": request_counts(db, [exp_id])[exp_id],
                "p99_ms": _exact_p99_ms(cols)},
        replicas=replica_timeline(events, t0_ns))


def _exact_p99_ms(cols: dict[str, np.ndarray]) -> float | None:
    """The exact p99 of the answered requests (what :func:`run_totals` reads by SQL), by an
    O(n) selection on the fetched latencies."""
    if not cols:
        return None
    answered = cols["latency_us"][cols["answered"]]
    if not answered.size:
        return None
    rank = order_rank(int(answered.size), 99.0)
    return float(np.partition(answered, rank)[rank]) / 1000.0


def _latency_ms(cols: dict[str, np.ndarray]) -> np.ndarray:
    if not cols:
        return np.zeros(0)
    return np.where(cols["answered"], cols["latency_us"] / 1000.0, np.nan)


def _services(cols: dict[str, np.ndarray], targets: dict[str, list[tuple[float, float]]]
              ) -> tuple[list[ServiceSeries], int]:
    if not cols:
        return [], 0
    second, failed, latency = cols["second"], cols["failed"], _latency_ms(cols)
    seconds = int(second.max()) + 1
    out = []
    for i, name in enumerate(cols["service_names"]):
        mine = cols["service"] == i
        sec = second[mine]
        out.append(ServiceSeries(
            str(name), np.bincount(sec, minlength=seconds).astype(np.int64),
            np.bincount(sec, weights=failed[mine], minlength=seconds).astype(np.int64),
            hist.histograms(sec, seconds, latency[mine]), targets.get(str(name), [])))
    return out, seconds

def run_totals(db: ExpDB, exp_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Requests, sent, errors, error rate (:mod:`galileo.analysis.counts`), the exact p99 (ms,
    from intended send) and threshold verdict of each run: one grouped count, one ordered probe
    per run for the p99."""
    if not exp_ids:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for exp_id, c in request_counts(db, exp_ids).items():
        out[exp_id] = {"requests": c.requests, "sent": c.sent, "errors": c.failed,
                       "error_rate": c.error_rate, "counts": c, "p99_ms": None,
                       "thresholds_passed": None}
    for exp_id, counts in reads.run_counts(db, exp_ids).items():
        if counts.answered:
            lat = reads.answered_latency_us_at(db, exp_id, order_rank(counts.answered, 99.0))
            out[exp_id]["p99_ms"] = None if lat is None else lat / 1000.0
    for exp_id, passed in thresholds_passed(db, exp_ids).items():
        out[exp_id]["thresholds_passed"] = passed
    return out
