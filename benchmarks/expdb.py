"""Trace ingest rate of the experiment database, per backend.

    .venv/bin/python benchmarks/expdb.py --part ingest [--traces 100000] [--batch 500]
        [--ingest-reps 3] [--sqlite-tx-batches 10]

Inserts ``--traces`` generated traces in batches of ``--batch`` (one transaction per batch, as
the recorder does) into a scratch database on each backend, twice per repetition in the same run
so their ratio survives a noisy machine: ``executemany`` (one parameterised INSERT that skips
duplicates, executed per row by the driver) and ``bulk`` (what the recorder uses: PostgreSQL
``COPY`` into a staging table then ``INSERT … ON CONFLICT DO NOTHING``; MariaDB multi-row
``INSERT IGNORE`` sized by ``max_allowed_packet``; SQLite ``executemany`` without SQLAlchemy's
per-row work, also timed with ``--sqlite-tx-batches`` batches per transaction). Reported per
path: rows per wall second and rows per CPU-second of this process (the recorder's share; the
database server's CPU is not counted), medians of ``--ingest-reps``, and the ratio bulk /
executemany. ``replay`` re-inserts the same traces through the bulk path (the recorder is
at-least-once): 0 rows must be written, and its rate is shown. One JSON line at the end.

A backend that does not answer is skipped with a line saying so. URLs:
``GALILEO_TEST_MYSQL_URL`` / ``GALILEO_TEST_POSTGRESQL_URL`` (defaults: the local test servers).
``influxdb`` is the ``mixed`` expdb's runtime store: a local ``influxd`` 1.x (Debian's package)
started in a temporary directory, written through the same transaction path (SQLite beside it).

``--part stop`` (``all`` runs both): time from ``stop`` to all groups quiet (goal <= 1 s). A real
worker and recorder (subprocesses) and the echo app (thread) on the Redis at
``GALILEO_TEST_REDIS_URL`` (default: the local one, else an embedded one); a scenario with
``--groups`` groups at ``--rps`` each runs through the runner code (``execute``, what the Celery
task calls); once traces flow, ``ExperimentService.cancel`` is called (what ``galileo exp stop``
and the APIs call). Quiet = the last request any group of the experiment sent (the maximum
``sent_ns`` of its stored traces, all recorded before the runner returns); also shown: the time
until the status reads CANCELLED. Medians over ``--reps`` repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

from galileo.errors import StorageError
from galileo.experiments.runner import execute
from galileo.experiments.service import ExperimentService
from galileo.protocol import TRACE_BATCH_MAX, Trace
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus
from galileo.storage.scratch import scratch_database

BACKENDS = {
    "sqlite": None,  # a file in a temporary directory
    "mariadb": os.environ.get("GALILEO_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
    "postgresql": os.environ.get(
        "GALILEO_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
}


def make_traces(n: int, exp_id: str = "202401010000-bench") -> list[Trace]:
    t0 = time.time_ns()
    return [
        Trace(request_id=uuid.uuid4().hex, exp_id=exp_id, group_id="g1", client_id=f"c{i % 50}",
              worker="w1", service="svc", host="10.0.0.1:8080", method="GET", path="/api/item",
              intended_ns=t0 + i * 1000, sent_ns=t0 + i * 1000 + 50, done_ns=t0 + i * 1000 + 900,
              status=200, error="", bytes_received=512)
        for i in range(n)
    ]


class Rate:
    """Rows per wall second and per CPU-second of this process over one timed insert."""

    def __init__(self, rows: int, wall_s: float, cpu_s: float) -> None:
        self.rows, self.wall, self.cpu = rows, rows / wall_s, rows / max(cpu_s, 1e-9)


def _timed(insert: Callable[[], int], rows: int, expected: int) -> Rate:
    """Time ``insert`` of ``rows`` rows, of which ``expected`` must be newly written."""
    wall, cpu = time.perf_counter(), time.process_time()
    written = insert()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if written != expected:
        raise SystemExit(f"expected {expected} rows written, driver reported {written}")
    return Rate(rows, wall, cpu)


def _insert_all(db: ExpDB, traces: list[Trace], batch: int, method: str,
                batches_per_tx: int = 1) -> int:
    written = 0
    step = batch * batches_per_tx
    for i in range(0, len(traces), step):
        with db.transaction() as tx:
            for j in range(i, min(i + step, len(traces)), batch):
                written += tx.insert_traces(traces[j:j + batch], method=method)  # type: ignore[arg-type]
    return written


def bench(url: str, n: int, batch: int, sqlite_tx: int) -> dict[str, Rate]:
    """One repetition on the backend at ``url``: each path into its own scratch database."""
    out: dict[str, Rate] = {}
    paths = [("executemany", "executemany", 1), ("bulk", "bulk", 1)]
    if url.startswith("sqlite") and sqlite_tx > 1:
        paths.append((f"bulk_tx{sqlite_tx}", "bulk", sqlite_tx))
    for label, method, per_tx in paths:
        traces = make_traces(n)  # fresh ids: every run inserts new rows
        with scratch_database(url, prefix="gbench") as scratch, ExpDB(scratch) as db:
            db.insert_traces(make_traces(10))  # warm up connection and statement cache
            def run(how: str = method, per: int = per_tx, rows: list[Trace] = traces) -> int:
                return _insert_all(db, rows, batch, how, per)

            out[label] = _timed(run, n, n)
            if method == "bulk" and per_tx == 1:  # every row again: none may be written
                out["replay"] = _timed(run, n, 0)
    return out


def bench_influx(traces: list[Trace], batch: int, tmp: str) -> float:
    """Rows per second into a local influxd (the mixed expdb's runtime store)."""
    import shutil
    import urllib.request
    from pathlib import Path

    from galileo.interop.local import LocalInflux
    from galileo.storage.influx import InfluxRuntimeStore, InfluxV1Writer

    if shutil.which("influxd") is None:
        raise StorageError("influxd is not installed (Debian package influxdb)")
    root = Path(tmp) / f"influx-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    server = LocalInflux(root)
    server.start()
    try:
        urllib.request.urlopen(urllib.request.Request(f"{server.url}/query",
                                                      b"q=CREATE DATABASE bench"), timeout=10)
        store = InfluxRuntimeStore(InfluxV1Writer(server.url, "bench"))
        with ExpDB(f"sqlite:///{root}/meta.sqlite", runtime=store) as db:
            db.insert_traces(make_traces(10, exp_id="warm-up"))
            start = time.perf_counter()
            for i in range(0, len(traces), batch):
                db.insert_traces(traces[i:i + batch])
            elapsed = time.perf_counter() - start
            stored = len(server.query("SELECT request_id FROM galileo_trace WHERE "
                                      f"exp_id = '{traces[0].exp_id}'", "bench"))
        if stored != len(traces):
            raise SystemExit(f"expected {len(traces)} points in InfluxDB, found {stored}")
        return len(traces) / elapsed
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=TRACE_BATCH_MAX)
    parser.add_argument("--ingest-reps", type=int, default=3, help="ingest: runs per backend")
    parser.add_argument("--sqlite-tx-batches", type=int, default=10,
                        help="ingest: SQLite batches per transaction for the large-tx figure")
    parser.add_argument("--part", choices=("ingest", "stop", "all"), default="all")
    parser.add_argument("--reps", type=int, default=5, help="stop part: repetitions")
    parser.add_argument("--groups", type=int, default=3, help="stop part: client groups")
    parser.add_argument("--rps", type=float, default=100, help="stop part: rate per group")
    args = parser.parse_args()
    if args.part in ("ingest", "all"):
        ingest(args)
    if args.part in ("stop", "all"):
        stop_to_quiet(reps=args.reps, groups=args.groups, rps=args.rps)


def _median(rates: list[Rate], attr: str) -> float:
    return float(statistics.median(float(getattr(r, attr)) for r in rates))


def ingest(args: argparse.Namespace) -> None:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, base in BACKENDS.items():
            url = base or f"sqlite:///{tmp}/bench.sqlite"
            try:
                reps = [bench(url, args.traces, args.batch, args.sqlite_tx_batches)
                        for _ in range(args.ingest_reps)]
            except StorageError as e:
                print(f"{name:<11} skipped: {e}")
                continue
            entry: dict[str, object] = {}
            for path in reps[0]:
                rates = [r[path] for r in reps]
                wall, cpu = _median(rates, "wall"), _median(rates, "cpu")
                entry[path] = {"rows_per_s": round(wall), "rows_per_cpu_s": round(cpu)}
                print(f"{name:<11} {path:<12} {wall:>10,.0f} rows/s  {cpu:>10,.0f} rows/CPU-s "
                      f"(medians of {len(rates)})")
            ratio = {k: round(_median([r["bulk"] for r in reps], k)
                              / _median([r["executemany"] for r in reps], k), 2)
                     for k in ("cpu", "wall")}
            entry["bulk_vs_executemany"] = ratio
            print(f"{name:<11} bulk / executemany: {ratio['cpu']:.2f}x per CPU-second, "
                  f"{ratio['wall']:.2f}x per wall second")
            results[name] = entry
        try:
            influx = statistics.median(bench_influx(make_traces(args.traces), args.batch, tmp)
                                       for _ in range(args.ingest_reps))
            results["influxdb"] = {"bulk": {"rows_per_s": round(influx)}}
            print(f"{'influxdb':<11} {'bulk':<12} {influx:>10,.0f} rows/s")
        except StorageError as e:
            print(f"influxdb    skipped: {e}")
    goals = {"postgresql": 2.5, "mariadb": 1.5}
    met = {k: bool(isinstance(results.get(k), dict)
                   and results[k]["bulk_vs_executemany"]["cpu"] >= v)  # type: ignore[index]
           for k, v in goals.items()}
    print(json.dumps({"bench": "expdb-ingest", "traces": args.traces, "batch": args.batch,
                      "reps": args.ingest_reps, "cpus": os.cpu_count(), "results": results,
                      "goals_cpu_ratio": goals, "goals_met": met}))


# ---------------------------------------------------------------------- stop → quiet
def _bench_settings(tmp: str) -> Settings:
    import redis

    env = {"galileo_namespace": f"gbench-{uuid.uuid4().hex[:8]}", "galileo_data_dir": tmp,
           "galileo_expdb_sqlite_path": f"{tmp}/stop.sqlite", "galileo_log_level": "WARNING",
           "galileo_worker_name": "bench-stop-worker"}
    url = os.environ.get("GALILEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        env["galileo_redis_url"] = url
    except redis.RedisError:
        pass  # embedded Redis in tmp
    return Settings.from_env(env)


def _stop_scenario(host: str, groups: int, rps: float) -> dict[str, object]:
    return {"name": "stop-bench", "routing": {"echo": {"hosts": [host]}}, "duration": 120,
            "drain_s": 0, "workloads": [
                {"name": f"g{i}", "service": "echo", "clients": 2,
                 "request": {"path": "/echo"}, "profile": {"type": "constant", "rps": rps}}
                for i in range(groups)]}


def _wait(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def _one_stop(service: ExperimentService, host: str, groups: int, rps: float
              ) -> tuple[float, float]:
    """(stop → last request sent, stop → status CANCELLED) in seconds for one run."""
    exp = service.create(scenario=_stop_scenario(host, groups, rps))
    thread = threading.Thread(target=execute, args=(service.settings, exp.id),
                              kwargs={"runner": "bench"})
    thread.start()
    _wait(lambda: service.db.count_traces(exp.id) >= groups * rps, 60, "traces to flow")
    t_stop = time.time_ns()
    service.cancel(exp.id)
    _wait(lambda: service.get(exp.id).status == ExperimentStatus.CANCELLED, 30, "CANCELLED")
    t_cancelled = time.time_ns()
    thread.join(60)  # the runner waits until the recorder stored every request sent
    last_sent = max(int(t["sent_ns"]) for t in service.db.traces(exp.id))
    return max(last_sent - t_stop, 0) / 1e9, (t_cancelled - t_stop) / 1e9


def stop_to_quiet(*, reps: int, groups: int, rps: float) -> None:
    from galileo.apps.background import start_in_thread
    from galileo.control.galileo import Galileo
    from galileo.localenv import ProcessGroup

    with tempfile.TemporaryDirectory() as tmp:
        settings = _bench_settings(tmp)
        app = start_in_thread(("echo",))
        procs = ProcessGroup(settings)
        g = Galileo.from_settings(settings)
        try:
            procs.start("worker", ["worker", "--name", "bench-stop-worker", "--processes", "1"])
            procs.start("recorder", ["recorder"])
            _wait(lambda: any(w.name == "bench-stop-worker" for w in g.workers()), 60,
                  "the worker")
            with ExperimentService(settings) as service:
                runs = [_one_stop(service, f"{app.host}:{app.port}", groups, rps)
                        for _ in range(reps)]
        finally:
            procs.stop_all()
            app.stop()
            for key in g.redis.scan_iter(f"{settings.namespace}:*"):
                g.redis.delete(key)
            g.close()
    quiet = statistics.median(r[0] for r in runs)
    status = statistics.median(r[1] for r in runs)
    print(f"stop → quiet  median {quiet:.3f} s (max {max(r[0] for r in runs):.3f} s; goal <= 1 s)"
          f"; stop → CANCELLED median {status:.3f} s  ({reps} runs, {groups} groups x "
          f"{rps:g} rps)")

if __name__ == "__main__":
    main()
