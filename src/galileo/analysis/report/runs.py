"""One run, aggregated for reports and the dashboard: per service and second, per worker and
host, errors by kind, telemetry per node, events and thresholds.

Traces are read with one SQL query of a few columns into numpy arrays (no per-row Python), then
turned into histograms (:mod:`.hist`); nothing per request survives the aggregation, so a run of
a million traces costs a few MB. Latency is measured from the *intended* send time
(``done_ns - intended_ns``) of requests that got an answer; a request counts as an error when it
has an error text or a status outside 200-399.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import sqlalchemy as sa

from galileo.errors import NotFoundError
from galileo.storage import ExpDB, Experiment
from galileo.storage.schema import metadata_table, traces
from galileo.storage.schema import telemetry as telemetry_table

from . import hist

NS_PER_S: Final = 1_000_000_000
PERCENTILES: Final = (50.0, 95.0, 99.0)
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

    @property
    def title(self) -> str:
        name = self.experiment.name if self.experiment is not None else ""
        return f"{name} ({self.exp_id})" if name else self.exp_id


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _codes(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    names, inverse = np.unique(values.astype(str), return_inverse=True)
    return [str(n) for n in names], inverse.astype(np.int64)


def _breakdown(codes: np.ndarray, names: list[str], failed: np.ndarray,
               latency: np.ndarray) -> Breakdown:
    n = len(names)
    return Breakdown(names, np.bincount(codes, minlength=n),
                     np.bincount(codes, weights=failed, minlength=n).astype(np.int64),
                     hist.histograms(codes, n, latency))


def _read_traces(conn: sa.Connection, exp_id: str) -> dict[str, np.ndarray]:
    t = traces.c
    failed = sa.case((sa.or_(t.error != "", t.status < 200, t.status >= 400), 1), else_=0)
    stmt = sa.select(t.intended_ns, t.done_ns, t.status, failed, t.service, t.worker,
                     t.host).where(t.exp_id == exp_id)
    rows = conn.execute(stmt).all()
    if not rows:
        return {}
    cols = list(zip(*rows, strict=True))
    return {"intended": np.fromiter(cols[0], np.int64, len(rows)),
            "done": np.fromiter(cols[1], np.int64, len(rows)),
            "status": np.fromiter(cols[2], np.int64, len(rows)),
            "failed": np.fromiter(cols[3], np.int64, len(rows)),
            "service": np.asarray(cols[4], dtype=object),
            "worker": np.asarray(cols[5], dtype=object),
            "host": np.asarray(cols[6], dtype=object)}


def _errors_by_kind(conn: sa.Connection, exp_id: str,
                    since_ns: int | None = None) -> list[dict[str, Any]]:
    t = traces.c
    bad = sa.or_(t.error != "", t.status < 200, t.status >= 400)
    where = [t.exp_id == exp_id, bad] + ([t.sent_ns >= since_ns] if since_ns is not None else [])
    stmt = (sa.select(t.service, t.error, t.status, sa.func.count())
            .where(*where).group_by(t.service, t.error, t.status))
    out: dict[tuple[str, str], int] = {}
    for service, error, status, n in conn.execute(stmt):
        kind = (error or "").split(":")[0][:80] if error else f"HTTP {status}"
        out[(service, kind)] = out.get((service, kind), 0) + int(n)
    return [{"service": s, "kind": k, "count": n}
            for (s, k), n in sorted(out.items(), key=lambda kv: -kv[1])]


def recent_errors(db: ExpDB, exp_id: str, since_ns: int) -> list[dict[str, Any]]:
    """Errors by service and kind among the traces of ``exp_id`` sent since ``since_ns``."""
    with db.engine.connect() as conn:
        return _errors_by_kind(conn, exp_id, since_ns)


def telemetry_series(db: ExpDB, exp_id: str, t0_ns: int) -> list[dict[str, Any]]:
    """CPU, memory and network (summed over interfaces) per node; ``t`` in s since ``t0_ns``."""
    with db.engine.connect() as conn:
        return _telemetry(conn, exp_id, t0_ns)


def run_events(db: ExpDB, exp_id: str, t0_ns: int) -> list[dict[str, Any]]:
    """Events to annotate charts with: ``{t_s, kind, name, text}`` in time order."""
    return [{"t_s": (int(e["ts_ns"]) - t0_ns) / NS_PER_S, "kind": str(e["kind"]),
             "name": e["name"], "text": _event_text(e)} for e in db.events(exp_id)
            if str(e["kind"]) != "threshold"]


def _telemetry(conn: sa.Connection, exp_id: str, t0_ns: int) -> list[dict[str, Any]]:
    t = telemetry_table.c
    keep = sa.or_(sa.and_(t.metric == "cpu", t.subsystem == ""),
                  sa.and_(t.metric == "ram", t.subsystem == "used"),
                  t.metric.in_(["rx", "tx"]))
    stmt = sa.select(t.node, t.metric, t.ts_ns, sa.func.sum(t.value)).where(
        t.exp_id == exp_id, keep).group_by(t.node, t.metric, t.ts_ns).order_by(t.ts_ns)
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for node, metric, ts_ns, value in conn.execute(stmt):
        label, unit = TELEMETRY_METRICS[metric]
        s = series.setdefault((node, metric), {"node": node, "metric": metric, "label": label,
                                               "unit": unit, "t": [], "v": []})
        s["t"].append((int(ts_ns) - t0_ns) / NS_PER_S)
        s["v"].append(float(value))
    return [series[k] for k in sorted(series)]


def _meta(conn: sa.Connection, exp_id: str) -> dict[str, Any]:
    m = metadata_table.c
    return {k: v for k, v in conn.execute(sa.select(m.key, m.value).where(m.exp_id == exp_id))}


def _event_text(e: dict[str, Any]) -> str:
    data = e.get("data") or {}
    kind = str(e["kind"])
    if kind == "group_rate":
        return f"{data.get('service', e['name'])} → {data.get('rps', '?'):g}/s" \
            if isinstance(data.get("rps"), int | float) else f"rate {e['name']}"
    if kind == "routing_set":
        hosts = data.get("hosts") or []
        return f"routing {e['name']}: {len(hosts)} host(s)"
    return f"{kind.replace('_', ' ')} {e['name']}".strip()


def _targets(events: list[dict[str, Any]], t0_ns: int) -> dict[str, list[tuple[float, float]]]:
    """Planned rate per service from the group spawn/rate/close events (ramps are linear)."""
    per_group: dict[str, tuple[str, float]] = {}
    out: dict[str, list[tuple[float, float]]] = {}

    def emit(service: str, t_s: float, ramp_s: float) -> None:
        total = sum(r for s, r in per_group.values() if s == service)
        pts = out.setdefault(service, [])
        prev = pts[-1][1] if pts else 0.0
        pts.append((t_s, prev))
        pts.append((t_s + ramp_s, total))

    for e in events:
        kind, data = str(e["kind"]), e.get("data") or {}
        service = data.get("service")
        if kind not in ("group_spawn", "group_rate", "group_close") or not service:
            continue
        t_s = (int(e["ts_ns"]) - t0_ns) / NS_PER_S
        rps = 0.0 if kind == "group_close" else float(data.get("rps") or 0.0)
        per_group[e["name"]] = (service, rps)
        emit(service, t_s, float(data.get("ramp_s") or 0.0) if kind == "group_rate" else 0.0)
    return out


def load_run(db: ExpDB, exp_id: str) -> RunData:
    """Aggregate the run ``exp_id`` (``NotFoundError`` when the expdb knows nothing of it)."""
    experiment = db.get_experiment(exp_id)
    with db.engine.connect() as conn:
        cols = _read_traces(conn, exp_id)
        errors = _errors_by_kind(conn, exp_id) if cols else []
        meta = _meta(conn, exp_id)
    events = db.events(exp_id)
    if experiment is None and not cols and not events:
        raise NotFoundError(f"unknown experiment {exp_id!r}")
    t0_ns = int(cols["intended"].min()) if cols else (
        int(experiment.start * NS_PER_S) if experiment and experiment.start
        else (int(events[0]["ts_ns"]) if events else 0))
    telemetry = telemetry_series(db, exp_id, t0_ns)
    targets = _targets(events, t0_ns)
    services, workers, hosts, seconds = _aggregate(cols, t0_ns, targets)
    verdicts = meta.get("verdicts") or []
    passed = meta.get("thresholds_passed") if verdicts else None
    return RunData(
        exp_id=exp_id, experiment=experiment, t0_ns=t0_ns, seconds=seconds, services=services,
        workers=workers, hosts=hosts, errors_by_kind=errors, telemetry=telemetry,
        events=run_events(db, exp_id, t0_ns),
        verdicts=[str(v) for v in verdicts], thresholds_passed=passed)


def _aggregate(cols: dict[str, np.ndarray], t0_ns: int,
               targets: dict[str, list[tuple[float, float]]]
               ) -> tuple[list[ServiceSeries], Breakdown, Breakdown, int]:
    empty = Breakdown([], np.zeros(0, np.int64), np.zeros(0, np.int64),
                      np.zeros((0, hist.N_BUCKETS), np.int64))
    if not cols:
        return [], empty, empty, 0
    second = (cols["intended"] - t0_ns) // NS_PER_S
    seconds = int(second.max()) + 1
    answered = cols["status"] > 0
    latency = np.where(answered, (cols["done"] - cols["intended"]) / 1e6, np.nan)
    failed = cols["failed"]
    names, codes = _codes(cols["service"])
    services = []
    for i, name in enumerate(names):
        mine = codes == i
        sec = second[mine]
        services.append(ServiceSeries(
            name, np.bincount(sec, minlength=seconds),
            np.bincount(sec, weights=failed[mine], minlength=seconds).astype(np.int64),
            hist.histograms(sec, seconds, latency[mine]), targets.get(name, [])))
    w_names, w_codes = _codes(cols["worker"])
    h_names, h_codes = _codes(cols["host"])
    return (services, _breakdown(w_codes, w_names, failed, latency),
            _breakdown(h_codes, h_names, failed, latency), seconds)


def run_totals(db: ExpDB, exp_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Requests, errors, error rate, p99 (ms, from intended send) and threshold verdict of each
    run, by SQL (one grouped count, one ordered probe per run for the p99)."""
    if not exp_ids:
        return {}
    t, m = traces.c, metadata_table.c
    failed = sa.case((sa.or_(t.error != "", t.status < 200, t.status >= 400), 1), else_=0)
    answered = sa.case((t.status > 0, 1), else_=0)
    out: dict[str, dict[str, Any]] = {e: {"requests": 0, "errors": 0, "error_rate": None,
                                          "p99_ms": None, "thresholds_passed": None}
                                      for e in exp_ids}
    with db.engine.connect() as conn:
        counts = conn.execute(sa.select(t.exp_id, sa.func.count(), sa.func.sum(failed),
                                        sa.func.sum(answered))
                              .where(t.exp_id.in_(exp_ids)).group_by(t.exp_id)).all()
        for exp_id, n, bad, ok in counts:
            row = out[exp_id]
            row.update(requests=int(n), errors=int(bad or 0),
                       error_rate=(int(bad or 0) / int(n)) if n else None)
            if ok:
                rank = max(int(np.ceil(0.99 * int(ok))) - 1, 0)
                lat = conn.execute(sa.select(t.done_ns - t.intended_ns).where(
                    t.exp_id == exp_id, t.status > 0).order_by(t.done_ns - t.intended_ns)
                    .limit(1).offset(rank)).scalar()
                row["p99_ms"] = None if lat is None else int(lat) / 1e6
        for exp_id, value in conn.execute(sa.select(m.exp_id, m.value).where(
                m.exp_id.in_(exp_ids), m.key == "thresholds_passed")):
            verdicts = conn.execute(sa.select(m.value).where(
                m.exp_id == exp_id, m.key == "verdicts")).scalar()
            out[exp_id]["thresholds_passed"] = bool(value) if verdicts else None
    return out
