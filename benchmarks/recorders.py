"""End-to-end recorder rate (Redis Stream → database) against the database path, 1 vs 2 recorders.

    .venv/bin/python benchmarks/recorders.py [--traces 100000] [--reps 3]
        [--backends sqlite,mariadb,postgresql] [--recorder-cpus 0.1] [--profile sqlite]

Per backend and repetition, in the same run so the ratios survive a noisy machine, on the same
``--traces`` generated traces (entries of 500, as workers send them) and a fresh scratch database
each time:

* ``db path``: the entries, already decoded (msgspec's output: one column struct per entry,
  ``decode_trace_columns``), made into rows and inserted through
  ``Transaction.insert_trace_rows`` in the transaction shape the recorder uses (one
  transaction per read: ``READ_COUNT`` entries × 500 traces), in this process: what the
  database path costs with nothing else around it. (With the rows form, the database path
  started from ``Trace`` objects and made the rows with ``astuple``: the same split.)
* ``1 recorder``: the stream pre-filled with every entry (in columns, as workers send them),
  then one recorder process (the real
  ``Recorder``, consumer group, XREADGROUP → decode → fit check → one transaction → XACK+XDEL)
  drains it; timed from the start signal to the stream empty.
* ``2 recorders``: the same with two recorder processes on one consumer group.
* ``capped 1`` / ``capped 2``: the same two runs with every recorder process in its own
  cgroup holding it to ``--recorder-cpus`` of a core (default 0.1; needs root): the recorders,
  not the database, are then the limit, as on a cluster where each recorder has a host of its
  own. The share of CFS periods in which the kernel throttled them (near 1) and the two capped
  recorders' rate against the database path's (well below 1) show that they were the limit.
  On a small machine the unlimited runs cannot show this: the database server shares the
  cores with the recorders and is the limit there.

Figures: rows per wall second and rows per recorder CPU-second (the recorder processes' own CPU,
``time.process_time`` inside each; Redis's and the database server's CPU are not counted),
medians of ``--reps``, and how busy each ingesting process was (its CPU-seconds per wall
second: well below 1, it mostly waited for the database or Redis). Ratios, each the median of
the per-repetition ratios (the runs of one repetition run back to back, so a ratio sees the
same machine load): end-to-end / db path (goal >= 0.8) and 2 / 1 recorders in wall rate, the
capped pair being where the database is not the limit (goal >= 1.7; SQLite takes one writer at
a time, so there the database stays the limit). On SQLite the recorder reads, decodes and
writes in turn (the writes run in this process, holding the GIL); on a server one writer thread
writes while the next read is decoded (see
``galileo.recorder.recorder``). After each run every trace must be a row exactly once and the
stream empty, else the benchmark stops with the counts. One JSON line at the end.

``--profile BACKEND`` instead runs one recorder in this process under cProfile and prints where
its time goes (top functions by own and cumulative time); it uses sequential passes
(``run_once``: read → decode → write → ack) so every cost shows in the one profiled thread.

Redis: ``GALILEO_TEST_REDIS_URL`` (default the local one); databases as ``benchmarks/expdb.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import multiprocessing as mp
import os
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from expdb import BACKENDS, make_traces

from galileo.errors import ConfigError, StorageError
from galileo.process import quiet_gc
from galileo.protocol import (
    TRACE_BATCH_MAX,
    Keys,
    Trace,
    TraceField,
    TraceRow,
    encode_trace_batch,
)
from galileo.protocol.trace_wire import column_rows, decode_trace_columns
from galileo.recorder.recorder import READ_COUNT, Recorder
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.storage.scratch import scratch_database
from galileo.testbed.cgroups import Cgroups, Resources, detect

REDIS_URL = os.environ.get("GALILEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
GOAL_E2E = 0.8
GOAL_SCALE = 1.7


@dataclass
class Run:
    """One timed ingest: rows, wall seconds, CPU seconds of the ingesting process(es)."""

    rows: int
    wall_s: float
    cpu_s: float
    procs: int = 1

    @property
    def busy(self) -> float:
        """Share of one core each ingesting process used (well below 1: it mostly waited)."""
        return self.cpu_s / self.wall_s / self.procs

    @property
    def rate(self) -> float:
        return self.rows / self.wall_s

    @property
    def per_cpu(self) -> float:
        return self.rows / max(self.cpu_s, 1e-9)


def _settings(namespace: str, url: str) -> Settings:
    return Settings.from_env({"galileo_redis_url": REDIS_URL, "galileo_namespace": namespace,
                              "galileo_expdb_url": url, "galileo_log_level": "WARNING"})


@contextmanager
def _namespace() -> Iterator[str]:
    ns = f"gbench-rec-{uuid.uuid4().hex[:8]}"
    try:
        yield ns
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{ns}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _entries(traces: list[Trace]) -> list[bytes]:
    """The stream entries' payloads, as a worker sends them."""
    return [encode_trace_batch("bench", traces[i:i + TRACE_BATCH_MAX])
            for i in range(0, len(traces), TRACE_BATCH_MAX)]


def _fill(namespace: str, traces: list[Trace]) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    pipe = client.pipeline(transaction=False)
    for data in _entries(traces):
        pipe.xadd(Keys(namespace).traces, {TraceField: data})
    pipe.execute()
    client.close()


def db_path(url: str, traces: list[Trace]) -> Run:
    """The entries the recorders read, decoded before the clock starts, into a fresh database
    (rows made as the recorder makes them), one transaction per recorder read."""
    decoded = [decode_trace_columns(data) for data in _entries(traces)]
    with scratch_database(url, prefix="gbrec") as scratch, ExpDB(scratch) as db:
        db.insert_traces(make_traces(10, exp_id="warm-up"))
        wall, cpu = time.monotonic(), time.process_time()
        written = 0
        for i in range(0, len(decoded), READ_COUNT):
            rows: list[TraceRow] = []
            for columns in decoded[i:i + READ_COUNT]:
                rows.extend(column_rows(columns))
            with db.transaction() as tx:
                written += tx.insert_trace_rows(rows)
        run = Run(len(traces), time.monotonic() - wall, time.process_time() - cpu)
    if written != len(traces):
        raise SystemExit(f"db path: {written} rows written of {len(traces)}")
    return run


def _recorder_process(namespace: str, url: str, consumer: str, ready: Any, go: Any,
                      out: Any) -> None:
    """One recorder: connected and warmed up, then drains the stream when ``go`` is set (the
    process set up as ``galileo recorder`` sets up its own: ``quiet_gc``)."""
    quiet_gc()
    with ExpDB(url, create_tables=False) as db, \
            Recorder(_settings(namespace, url), db, consumer=consumer) as rec:
        db.count_traces()  # a database connection in the pool
        rec.run_once(0)  # Redis connection, consumer group, experiment windows
        ready.release()
        go.wait()
        wall, cpu = time.monotonic(), time.process_time()
        rec.drain()
        out.put((consumer, rec.stats.traces_written, rec.stats.traces_duplicate, wall,
                 time.monotonic(), time.process_time() - cpu))


@dataclass
class Quota:
    """Each recorder process in its own cgroup with ``cpus`` of a core: the recorder, not the
    database, is then the limit (as on a cluster where every recorder has a host of its own
    and the database a bigger one). ``throttled``: share of CFS periods in which the kernel
    held a recorder back, summed over runs (near 1: it used its whole quota all the time)."""

    cgroups: Cgroups
    cpus: float
    periods: int = 0
    throttled: int = 0

    @contextmanager
    def applied(self, pids: list[int]) -> Iterator[None]:
        rels = [f"galileo-bench/recorder-{uuid.uuid4().hex[:8]}" for _ in pids]
        try:
            for rel, pid in zip(rels, pids, strict=True):
                self.cgroups.create(rel, Resources(cpus=self.cpus))
                self.cgroups.add(rel, pid)
            yield
            for rel in rels:
                stat = _cpu_stat(self.cgroups, rel)
                self.periods += stat.get("nr_periods", 0)
                self.throttled += stat.get("nr_throttled", 0)
        finally:
            for rel in rels:
                self.cgroups.remove(rel)


def _cpu_stat(cgroups: Cgroups, rel: str) -> dict[str, int]:
    d = cgroups.dirs(rel)
    path = (d[""] if cgroups.version == 2 else d["cpu"]) / "cpu.stat"
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def recorders(url: str, traces: list[Trace], n: int, quota: Quota | None = None) -> Run:
    """``n`` recorder processes drain a stream pre-filled with ``traces`` into a fresh db
    (each held to ``quota`` when given)."""
    ctx = mp.get_context("spawn")
    with _namespace() as ns, scratch_database(url, prefix="gbrec") as scratch:
        ExpDB(scratch).close()  # tables, before the recorders race to create them
        ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_recorder_process, args=(ns, scratch, f"r{i}", ready, go,
                                                             out)) for i in range(n)]
        for p in procs:
            p.start()
        try:
            for _ in procs:
                if not ready.acquire(timeout=120):
                    raise SystemExit("a recorder process did not start")
            _fill(ns, traces)
            with (quota.applied([p.pid for p in procs if p.pid]) if quota is not None
                  else contextlib.nullcontext()):
                go.set()
                results = [out.get(timeout=600) for _ in procs]
        finally:
            for p in procs:
                p.join(30)
                if p.is_alive():
                    p.kill()
        with ExpDB(scratch, create_tables=False) as db:
            stored = db.count_traces()
        left = redis.Redis.from_url(REDIS_URL).xlen(Keys(ns).traces)
    written = sum(r[1] for r in results)
    if stored != len(traces) or written != len(traces) or left:
        raise SystemExit(f"{n} recorder(s): {stored} rows stored, {written} written, "
                         f"{left} entries left, of {len(traces)} traces")
    wall = max(r[4] for r in results) - min(r[3] for r in results)
    return Run(len(traces), wall, sum(r[5] for r in results), n)


def profile(url: str, n_traces: int, top: int = 25) -> None:
    """One recorder in this process under cProfile on a pre-filled stream (unpipelined)."""
    traces = make_traces(n_traces)
    quiet_gc()  # as in a ``galileo recorder`` process
    with _namespace() as ns, scratch_database(url, prefix="gbrec") as scratch, \
            ExpDB(scratch) as db, Recorder(_settings(ns, scratch), db, consumer="p") as rec:
        rec.run_once(0)
        _fill(ns, traces)
        prof = cProfile.Profile()
        wall, cpu = time.monotonic(), time.process_time()
        prof.enable()
        while rec.run_once(0):  # sequential passes: every cost shows in this one thread
            pass
        prof.disable()
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    print(f"{n_traces:,} traces in {wall:.2f} s wall, {cpu:.2f} CPU-s "
          f"({n_traces / cpu:,.0f} rows/CPU-s; with cProfile's overhead)")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def _median(runs: list[Run], attr: str) -> float:
    return float(statistics.median(getattr(r, attr) for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--profile", choices=list(BACKENDS), default=None,
                        help="profile one in-process recorder on this backend instead")
    parser.add_argument("--recorder-cpus", type=float, default=0.1,
                        help="CPU quota of each recorder in the capped 1-vs-2 runs, in cores "
                             "(0: no capped runs)")
    args = parser.parse_args()
    quota_cpus = args.recorder_cpus if args.recorder_cpus > 0 else None
    with tempfile.TemporaryDirectory() as tmp:
        urls = {name: base or f"sqlite:///{tmp}/bench.sqlite" for name, base in BACKENDS.items()}
        if args.profile:
            profile(urls[args.profile], args.traces)
            return
        results: dict[str, Any] = {}
        for name in args.backends.split(","):
            if name not in urls:
                raise SystemExit(f"--backends: unknown backend {name!r} "
                                 f"(one of {', '.join(urls)})")
            try:
                results[name] = bench_backend(name, urls[name], args.traces, args.reps,
                                              quota_cpus)
            except StorageError as e:
                print(f"{name:<11} skipped: {e}")
    print(json.dumps({"bench": "recorders", "traces": args.traces, "reps": args.reps,
                      "read": f"{READ_COUNT} entries x {TRACE_BATCH_MAX} traces",
                      "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
                      "recorder_cpus": quota_cpus, "results": results,
                      "goals": {"e2e_vs_db_path": GOAL_E2E, "two_vs_one": GOAL_SCALE}}))


def _quota(cpus: float | None) -> Quota | None:
    """A quota for the capped runs, or None (with the reason printed) where cgroups cannot be
    written (not root, no cpu controller)."""
    if cpus is None:
        return None
    try:
        cgroups = detect()
        probe = f"galileo-bench/probe-{uuid.uuid4().hex[:8]}"
        cgroups.create(probe, Resources(cpus=cpus))
        cgroups.remove(probe)
    except (ConfigError, OSError) as e:
        print(f"capped runs skipped: cannot make a cgroup with a CPU quota here ({e})")
        return None
    return Quota(cgroups, cpus)


def bench_backend(name: str, url: str, n: int, reps: int,
                  quota_cpus: float | None = None) -> dict[str, Any]:
    quota = _quota(quota_cpus)
    runs: dict[str, list[Run]] = {"db_path": [], "recorder_1": [], "recorders_2": []}
    if quota is not None:
        runs |= {"capped_1": [], "capped_2": []}
    for rep in range(reps):
        traces = make_traces(n)
        runs["db_path"].append(db_path(url, traces))
        runs["recorder_1"].append(recorders(url, traces, 1))
        runs["recorders_2"].append(recorders(url, traces, 2))
        if quota is not None:
            runs["capped_1"].append(recorders(url, traces, 1, quota))
            runs["capped_2"].append(recorders(url, traces, 2, quota))
        print(f"{name:<11} rep {rep + 1}: " + ", ".join(
            f"{k} {v[-1].rate:,.0f} rows/s" for k, v in runs.items()), flush=True)
    entry: dict[str, Any] = {}
    for key, rs in runs.items():
        rate, per_cpu, busy = _median(rs, "rate"), _median(rs, "per_cpu"), _median(rs, "busy")
        entry[key] = {"rows_per_s": round(rate), "rows_per_cpu_s": round(per_cpu),
                      "busy": round(busy, 2)}
        print(f"{name:<11} {key:<12} {rate:>10,.0f} rows/s  {per_cpu:>10,.0f} rows/CPU-s  "
              f"busy {busy:.2f} of a core per process (medians of {reps})")
    def paired(a: str, b: str, attr: str) -> float:  # runs of one rep ran back to back
        ratios = [getattr(x, attr) / getattr(y, attr)
                  for x, y in zip(runs[a], runs[b], strict=True)]
        return round(float(statistics.median(ratios)), 2)

    entry["e2e_vs_db_path"] = {"wall": paired("recorder_1", "db_path", "rate"),
                               "cpu": paired("recorder_1", "db_path", "per_cpu")}
    entry["two_vs_one"] = paired("recorders_2", "recorder_1", "rate")
    print(f"{name:<11} end-to-end / db path: {entry['e2e_vs_db_path']['wall']:.2f}x wall, "
          f"{entry['e2e_vs_db_path']['cpu']:.2f}x per CPU-second (goal >= {GOAL_E2E}); "
          f"2 / 1 recorders: {entry['two_vs_one']:.2f}x (unlimited: on a small machine the "
          "database shares the cores and is the limit)", flush=True)
    if quota is not None:
        entry["two_vs_one_capped"] = paired("capped_2", "capped_1", "rate")
        entry["capped_2_vs_db_path"] = paired("capped_2", "db_path", "rate")
        entry["throttled"] = round(quota.throttled / max(quota.periods, 1), 2)
        print(f"{name:<11} recorders held to {quota.cpus:g} CPU each: 2 / 1 recorders "
              f"{entry['two_vs_one_capped']:.2f}x (goal >= {GOAL_SCALE}); two capped recorders "
              f"reached {entry['capped_2_vs_db_path']:.2f}x of the database path's rate and "
              f"were throttled in {entry['throttled']:.0%} of their CPU periods, i.e. the "
              "recorders, not the database, were the limit", flush=True)
    return entry


if __name__ == "__main__":
    main()
