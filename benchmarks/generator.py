"""Load-generator benchmark: one command, prints figures, ends with one JSON line.

    .venv/bin/python benchmarks/generator.py [--quick]

In the same run it measures, with the generator pinned to CPU 0 and the target to CPU 1:
 1. max requests/s of one Galileo worker process (tracing on) vs Locust FastHttpUser on the same
    target (goal: >= 3x Locust);
 2. open-loop accuracy at 2,000 and 10,000 req/s for 10 s (achieved/target, goal within 0.5 %)
    and p99 of (actual - intended send) at 2,000 req/s (goal <= 1 ms);
 3. rate-change latency across 4 worker processes (p99, goal <= 100 ms);
 4. traces recorded / requests sent over 30 s at 5,000 req/s with the recorder killed (SIGKILL)
    and restarted in the middle (goal exactly 1.0).
The target is nginx on loopback if installed, else Galileo's built-in echo service.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from galileo import bus
from galileo.apps.background import spawn_process
from galileo.control.galileo import Galileo
from galileo.localenv import ProcessGroup, free_port, wait_for_port
from galileo.settings import Settings
from galileo.storage import ExpDB

console = Console()
GEN_CPU, TARGET_CPU = 0, 1


# ----------------------------------------------------------------------------- target
@contextlib.contextmanager
def target(work: Path) -> Iterator[tuple[str, str]]:
    """(name, host:port) of a fast HTTP target on TARGET_CPU answering GET /echo."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if nginx:
        port = free_port()
        conf = work / "nginx.conf"
        conf.write_text(textwrap.dedent(f"""
            worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.err;
            events {{ worker_connections 4096; }}
            http {{ access_log off; keepalive_requests 1000000;
              server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok"; }} }} }}
        """))
        proc = subprocess.Popen(["taskset", "-c", str(TARGET_CPU), nginx, "-c", str(conf)])
        try:
            wait_for_port("127.0.0.1", port)
            yield "nginx", f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait()
        return
    server = spawn_process(("echo",), cpus=[TARGET_CPU])
    try:
        yield "galileo echo service", f"{server.host}:{server.port}"
    finally:
        server.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- 1. throughput
def galileo_max_rps(g: Galileo, procs: ProcessGroup, seconds: float) -> float:
    group = g.spawn("bench", num=64, hosts="gen-0", max_inflight=64,
                    request={"method": "GET", "path": "/echo"})
    pid = procs.procs["gen-0"].pid
    group.request(n=2000).wait(timeout=60)  # warm up connections
    n = 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - t0 < seconds:
        n += 20_000
        group.request(n=20_000).wait(timeout=120)
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    group.close()
    console.print(f"  galileo: {n} requests in {elapsed:.1f} s = {n / elapsed:,.0f} req/s "
                  f"({n / cpu:,.0f} per CPU-second of the worker)")
    return n / elapsed


def locust_max_rps(host: str, seconds: float, work: Path) -> float | None:
    locust = Path(sys.executable).parent / "locust"
    if not locust.exists():
        console.print("  locust not installed (pip install -e '.[dev]'): skipped")
        return None
    locustfile = work / "locustfile.py"
    locustfile.write_text(textwrap.dedent("""
        from locust import FastHttpUser, constant, task

        class Echo(FastHttpUser):
            wait_time = constant(0)

            @task
            def echo(self):
                self.client.get("/echo")
    """))
    prefix = work / "locust"
    cmd = ["taskset", "-c", str(GEN_CPU), str(locust), "-f", str(locustfile), "--headless",
           "-u", "64", "-r", "64", "-t", f"{int(seconds) + 2}s", "--host", f"http://{host}",
           "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"]
    log = open(work / "locust.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    cpu = 0.0
    while proc.poll() is None:
        with contextlib.suppress(OSError, IndexError):
            cpu = cpu_seconds(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.2)
    log.close()
    if not Path(f"{prefix}_stats.csv").exists():
        console.print(f"  locust: no result (see {work / 'locust.log'})")
        return None
    with open(f"{prefix}_stats.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    if not rows:
        console.print(f"  locust: no result (see {work / 'locust.log'})")
        return None
    rps = float(rows[0]["Requests/s"])
    console.print(f"  locust FastHttpUser: {rps:,.0f} req/s "
                  f"(process CPU {cpu:.1f} s incl. start-up)")
    return rps


# ----------------------------------------------------------------------------- 2. accuracy
def open_loop(g: Galileo, settings: Settings, rate: float, seconds: float) -> tuple[float, float]:
    """(achieved/target, p99 send lag ms) of ``rate`` req/s held for ``seconds``."""
    exp = g.experiment.start(name=f"bench-open-loop-{rate:g}")
    group = g.spawn("bench", num=32, hosts="gen-0", max_inflight=4096,
                    request={"method": "GET", "path": "/echo"})
    group.rps(rate)
    time.sleep(seconds)
    group.rps(0)
    time.sleep(1.0)
    group.close()
    g.experiment.stop()
    with ExpDB.from_settings(settings) as db:
        rows = wait_traces(db, exp, int(rate * seconds * 0.9))
    intended = sorted(r["intended_ns"] for r in rows)
    # the steady window: whole seconds after the first request, before the rate went to 0
    t_start = intended[0]
    window = [r for r in rows if t_start <= r["intended_ns"] < t_start + int((seconds - 1) * 1e9)]
    achieved = len(window) / ((seconds - 1) * rate)
    lags = sorted((r["sent_ns"] - r["intended_ns"]) / 1e6 for r in window)
    p99 = lags[int(0.99 * (len(lags) - 1))]
    errors = sum(1 for r in window if r["status"] != 200)
    console.print(f"  {rate:,.0f} req/s: achieved/target = {achieved:.4f}, send lag p50 "
                  f"{statistics.median(lags):.3f} ms, p99 {p99:.3f} ms, errors {errors}")
    return achieved, p99


def wait_traces(db: ExpDB, exp_id: str, at_least: int, timeout_s: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = db.count_traces(exp_id)
        if n != last:
            last, stable_since = n, time.monotonic()
        elif n >= at_least and time.monotonic() - stable_since > 2.0:
            break
        time.sleep(0.25)
    return db.traces(exp_id)


# ----------------------------------------------------------------------------- 3. rate change
def rate_change(g: Galileo, changes: int) -> float:
    group = g.spawn("bench", num=4, hosts="rc-*", request={"method": "GET", "path": "/echo"})
    assert len(group.workers) == 4, group.workers
    lat = []
    for i in range(changes):
        change = group.rps(40 + 10 * (i % 5))
        lat.append(change.max_latency_ms)
        time.sleep(0.05)
    group.close()
    lat.sort()
    p99 = lat[int(0.99 * (len(lat) - 1))]
    console.print(f"  {changes} rate changes over 4 worker processes: p50 "
                  f"{statistics.median(lat):.2f} ms, p99 {p99:.2f} ms, max {lat[-1]:.2f} ms")
    return p99


# ----------------------------------------------------------------------------- 4. completeness
def completeness(g: Galileo, settings: Settings, procs: ProcessGroup, rate: float,
                 seconds: float) -> float:
    exp = g.experiment.start(name="bench-completeness")
    group = g.spawn("bench", num=32, hosts="gen-0", max_inflight=4096,
                    request={"method": "GET", "path": "/echo"})
    group.rps(rate)
    third = seconds / 3
    time.sleep(third)
    procs.stop("recorder", signal.SIGKILL)
    console.print(f"  recorder killed at {third:.0f} s")
    time.sleep(third / 2)
    procs.start("recorder", ["recorder"])
    console.print(f"  recorder restarted at {1.5 * third:.0f} s")
    time.sleep(seconds - 1.5 * third)
    group.rps(0)
    sent = group.close()["sent"]
    g.experiment.stop()
    with ExpDB.from_settings(settings) as db:
        rows = wait_traces(db, exp, sent, timeout_s=180)
    recorded = len(rows)
    unique = len({r["request_id"] for r in rows})
    console.print(f"  sent {sent}, recorded {recorded} ({unique} unique) -> "
                  f"{recorded / sent:.6f}")
    return recorded / sent


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter phases (a smoke run)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="galileo-bench-"))
    settings = Settings.from_env({"galileo_data_dir": str(work / "data"),
                                  "galileo_log_level": "WARNING"})
    bus.ensure_embedded_redis(settings.data_dir)
    try:
        result = run_all(settings, work, quick=args.quick)
    finally:
        bus.stop_embedded_redis(settings.data_dir)
    print(json.dumps(result))


def run_all(settings: Settings, work: Path, *, quick: bool) -> dict[str, float | None]:
    scale = 0.3 if quick else 1.0
    result: dict[str, float | None] = {}
    with target(work) as (target_name, host), ProcessGroup(settings) as procs:
        console.print(f"[bold]target[/]: {target_name} on {host} (CPU {TARGET_CPU}); "
                      f"generator on CPU {GEN_CPU}; redis: {bus.describe(settings)}")
        procs.start("gen-0", ["worker", "--name", "gen-0", "--processes", "1"], cpus=[GEN_CPU])
        for i in range(4):
            procs.start(f"rc-{i}", ["worker", "--name", f"rc-{i}", "--processes", "1"])
        procs.start("recorder", ["recorder"], cpus=[TARGET_CPU])
        g = Galileo.from_settings(settings)
        deadline = time.monotonic() + 30
        while len(g.workers()) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        g.rtbl.set("bench", [host], [1])

        console.print("[bold]1. max throughput per generator core[/]")
        runs = 1 if quick else 3
        ours_runs, theirs_runs = [], []
        for _ in range(runs):  # alternate, so both see the same background noise
            ours_runs.append(galileo_max_rps(g, procs, 10 * scale))
            theirs_runs.append(locust_max_rps(host, 10 * scale, work))
        ours = statistics.median(ours_runs)
        valid = [r for r in theirs_runs if r]
        theirs = statistics.median(valid) if valid else None
        console.print(f"  medians over {runs} run(s): galileo {ours:,.0f} req/s, "
                      f"locust {theirs or 0:,.0f} req/s")
        result["rps_per_core"] = round(ours)
        result["locust_fast_rps_per_core"] = round(theirs) if theirs else None
        result["ratio_vs_locust"] = round(ours / theirs, 2) if theirs else None

        console.print("[bold]2. open-loop accuracy[/]")
        acc2k, lag2k = open_loop(g, settings, 2000, max(10 * scale, 3))
        acc10k, _ = open_loop(g, settings, 10_000, max(10 * scale, 3))
        result.update(accuracy_2k=round(acc2k, 4), accuracy_10k=round(acc10k, 4),
                      send_lag_p99_ms_2k=round(lag2k, 3))

        console.print("[bold]3. rate-change latency[/]")
        result["rate_change_p99_ms"] = round(rate_change(g, int(200 * scale)), 2)

        console.print("[bold]4. trace completeness with a recorder restart[/]")
        result["trace_completeness"] = completeness(g, settings, procs, 5000,
                                                    max(30 * scale, 9))
        g.close()
    return result


if __name__ == "__main__":
    main()
