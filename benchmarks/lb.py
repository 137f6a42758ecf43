"""Load-balancer benchmark: one command, all figures of issue 9 in the same run, ends with one
JSON line.

    .venv/bin/python benchmarks/lb.py [--quick]

The proxies (``galileo lb serve``, one process: ``lb`` compiled with mypyc as it runs after
``galileo lb build``, built first if needed, and ``lb-py``, the same source in pure Python;
HAProxy, ``nbthread 1``; Envoy, one worker thread: see ``lb_anchors.py`` for how each is
configured) run pinned to CPU 1; the load
generator (Galileo's worker, one process, or ``wrk``) and the backends to CPU 0. Every measured
process runs at ``nice -10`` (``lb_anchors.NICE``), ahead of unrelated work on the machine.
Balancer tracing is off (HAProxy and Envoy log nothing either); client tracing is on: latencies
and errors are read from the clients' own traces (the Redis stream, no recorder), i.e.
``done - sent`` per request.

1. capacity with ``wrk`` (1 thread, 64 connections, two nginx backends): req/s and requests per
   proxy CPU-second of each proxy, the proxy's share of its core (near 1: the proxy was the
   limit) and ``wrk`` straight to a backend (far above every proxy: wrk and nginx were not the
   limit); also the closed-loop figure with Galileo's own generator, as before;
2. added latency at 2,000 req/s in paired runs: every other request of the same clients goes
   direct to the backends, the others via the proxy (``paired_latency``); p50/p99 via minus
   direct, per proxy and run (the lb's p99 goal must hold in every run);
3. weight change -> new split observed: time from the routing write to the first answer of the
   newly weighted backend, over repeated flips (p50/p99);
4. a backend SIGKILLed under 1,000 req/s: time until errors stop, errors after that;
5. policy comparison on a heterogeneous pair (service time 1 ms vs 3 ms, each serving one
   request at a time) at 500 req/s: p99 of each policy, and of Envoy's round robin and
   least-request (P2C).

Where the balancer's own tail comes from (GC, loop stalls, connection churn) is measured by
``benchmarks/lb_probe.py``.

Medians over several runs where a figure is noisy (3 runs, 1 with ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lb_anchors import (
    LOAD_CPU,
    PROXY_CPU,
    Proxy,
    cpu_seconds,
    envoy,
    haproxy,
    pinned,
    prioritize,
    wrk_capacity,
)
from rich.console import Console
from rich.table import Table

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.errors import ConfigError
from galileo.lb import native
from galileo.lb.commands import switch_policy
from galileo.localenv import ProcessGroup, free_port, settings_env, wait_for_port
from galileo.protocol import Keys, TraceField, decode_trace_batch, request_failed
from galileo.settings import Settings, default_data_dir

console = Console()


# ----------------------------------------------------------------------------- processes
@contextlib.contextmanager
def nginx(work: Path, name: str) -> Iterator[str]:
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        raise SystemExit("nginx is needed for the backends (Debian package 'nginx')")
    port = free_port()
    conf = work / f"nginx-{name}.conf"
    conf.write_text(textwrap.dedent(f"""
        worker_processes 1; daemon off; pid {work}/nginx-{name}.pid;
        error_log {work}/nginx-{name}.err;
        events {{ worker_connections 4096; }}
        http {{ access_log off; keepalive_requests 1000000;
          server {{ listen 127.0.0.1:{port};
            location / {{ add_header X-Backend {name}; return 200 "{name}"; }} }} }}
    """))
    proc = subprocess.Popen([*pinned(LOAD_CPU), exe, "-c", str(conf)])
    try:
        wait_for_port("127.0.0.1", port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


@contextlib.contextmanager
def serial_backend(name: str, service_ms: float) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A backend that serves one request at a time, ``service_ms`` each (this file, re-run)."""
    port = free_port()
    proc = subprocess.Popen([*pinned(LOAD_CPU), sys.executable, __file__, "--serve-backend",
                             str(port), str(service_ms), name])
    try:
        wait_for_port("127.0.0.1", port)
        yield f"127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait()


def serve_backend(port: int, service_ms: float, name: str) -> None:
    import httptools

    body = name.encode()
    answer = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Backend: %b\r\n\r\n%b"
              % (len(body), body, body))

    class Conn(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t: Any = transport
            self.p = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            try:
                self.p.feed_data(data)
            except httptools.HttpParserError:
                self.t.close()

        def on_message_complete(self) -> None:
            time.sleep(service_ms / 1000)  # blocks the loop: one request at a time
            self.t.write(answer)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Conn, "127.0.0.1", port)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(main())


@contextlib.contextmanager
def balancer(settings: Settings, work: Path, name: str, native: Path | None
             ) -> Iterator[tuple[int, int]]:
    """(port, pid) of ``galileo lb serve`` (one process, no tracing) pinned to PROXY_CPU;
    ``native``: the data directory of the compiled build it must run (None: pure Python)."""
    port = free_port()
    log = open(work / f"lb-{name}.log", "wb")  # noqa: SIM115
    mode = {"galileo_lb_native": "off"} if native is None else {
        "galileo_lb_native": "require", "galileo_data_dir": str(native)}
    proc = subprocess.Popen([*pinned(PROXY_CPU), sys.executable, "-m", "galileo", "lb",
                             "serve", "--port", str(port), "--name", name, "--no-trace",
                             "--response-timeout", "5"],
                            env=settings_env(settings, galileo_log_level="WARNING", **mode),
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for_port("127.0.0.1", port, 30)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait()


def compiled_balancer() -> Path | None:
    """The data directory holding the compiled balancer for this source (built if needed, as
    ``galileo lb build`` does), or None when it cannot be built here."""
    data_dir = default_data_dir()
    if not native.status(data_dir)[0]:
        try:
            with console.status("building the compiled balancer (galileo lb build, about a "
                                "minute)"):
                native.build(data_dir)
        except ConfigError as e:
            console.print(f"  compiled balancer not available ({e}): lb runs pure Python only")
            return None
    return data_dir


# ----------------------------------------------------------------------------- traces
def drain_traces(client: bus.Bus, keys: Keys) -> list[Any]:
    """Every client trace in the stream (then the stream is emptied)."""
    out = []
    for _, fields in client.xrange(keys.traces):
        out += decode_trace_batch(fields[TraceField]).traces
    client.delete(keys.traces)
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def await_worker(g: Galileo, timeout_s: float = 30.0) -> None:
    """Wait until the load worker is registered (on a loaded machine a heartbeat can be late)."""
    deadline = time.monotonic() + timeout_s
    while not g.workers() and time.monotonic() < deadline:
        time.sleep(0.1)


def open_loop(g: Galileo, client: bus.Bus, service: str, path: str, rate: float,
              seconds: float, during: Any = None) -> list[Any]:
    """Run ``rate`` req/s for ``seconds`` (``during(t0)`` called in the middle); the traces."""
    keys = Keys(g.keys.ns)
    await_worker(g)
    settle_traces(client, keys)
    group = g.spawn(service, num=16, hosts="load", max_inflight=4096,
                    request={"method": "GET", "path": path})
    group.rps(rate)
    t0 = time.time_ns()
    if during is not None:
        during(t0)
    time.sleep(max(seconds - (time.time_ns() - t0) / 1e9, 0))
    group.rps(0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # let what is in flight finish (not cancel it)
        time.sleep(0.5)
        recent = group.stats(seconds=2)
        if recent and recent[-1].inflight == 0:
            break
    group.close()
    time.sleep(0.5)  # the worker's trace writer flushes every 0.1 s
    return [t for t in drain_traces(client, keys) if t.group_id == group.gid]


def settle_traces(client: bus.Bus, keys: Keys, quiet_s: float = 1.0,
                  timeout_s: float = 60.0) -> None:
    """Empty the trace stream once the previous phase's traces stopped arriving: a worker
    still shipping a closed-loop phase's backlog would load the machine during the next
    measurement (and its traces are not this phase's)."""
    deadline = time.monotonic() + timeout_s
    drain_traces(client, keys)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        if not client.xlen(keys.traces):
            return
        drain_traces(client, keys)


def latency_ms(traces: list[Any], skip_s: float = 1.0) -> list[float]:
    start = min(t.sent_ns for t in traces) + int(skip_s * 1e9)
    return [(t.done_ns - t.sent_ns) / 1e6 for t in traces
            if t.sent_ns >= start and not request_failed(t.status, t.error)]


@dataclass(frozen=True)
class PairedRun:
    """One interleaved run: every other request direct to a backend, the others via a proxy
    (same clients, same moments, same generator: its stalls hit both sides alike)."""

    direct_p50: float
    direct_p99: float
    via_p50: float
    via_p99: float
    late_p99: float  # the generator's own lateness (sent - intended), p99, ms
    n: int  # requests via the proxy (after the first second)

    @property
    def added_p50(self) -> float:
        return self.via_p50 - self.direct_p50

    @property
    def added_p99(self) -> float:
        return self.via_p99 - self.direct_p99

    def describe(self) -> str:
        return (f"direct p50/p99 {self.direct_p50:.3f}/{self.direct_p99:.3f} ms, via "
                f"{self.via_p50:.3f}/{self.via_p99:.3f} -> added +{self.added_p50:.3f}/"
                f"{self.added_p99:+.3f} ms ({self.n:,} requests; generator late p99 "
                f"{self.late_p99:.3f} ms)")


def paired_latency(g: Galileo, client: bus.Bus, proxy: str, a: str, b: str, rate: float,
                   seconds: float) -> PairedRun:
    """``rate`` req/s via ``proxy`` interleaved with ``rate`` req/s direct to ``a``/``b``: one
    service routed to ``[a, b, proxy]`` with weights 0.5/0.5/1 (smooth weighted round robin:
    each client alternates direct and via); latencies split by the host each request went to.
    The path ``/pair/`` names the balancer's service; nginx answers any path alike."""
    g.rtbl.set("paired", [a, b, proxy], [0.5, 0.5, 1])
    traces = open_loop(g, client, "paired", "/pair/", 2 * rate, seconds)
    start = min(t.sent_ns for t in traces) + int(1e9)
    kept = [t for t in traces if t.sent_ns >= start and not request_failed(t.status, t.error)]
    via = [(t.done_ns - t.sent_ns) / 1e6 for t in kept if t.host == proxy]
    direct = [(t.done_ns - t.sent_ns) / 1e6 for t in kept if t.host != proxy]
    if not via or not direct:
        raise SystemExit(f"no successful requests via {proxy} or direct in the paired run")
    late = [(t.sent_ns - t.intended_ns) / 1e6 for t in kept]
    return PairedRun(pct(direct, 50), pct(direct, 99), pct(via, 50), pct(via, 99),
                     pct(late, 99), len(via))


# ----------------------------------------------------------------------------- 1. throughput
def max_rps(g: Galileo, service: str, path: str, pid: int, seconds: float) -> tuple[float, float]:
    """(req/s, requests per CPU-second of the proxy) in closed loop with 64 connections."""
    await_worker(g)
    group = g.spawn(service, num=64, hosts="load", max_inflight=64,
                    request={"method": "GET", "path": path})
    group.request(n=3000).wait(timeout=60)
    n, cpu0, t0 = 0, cpu_seconds(pid), time.monotonic()
    while time.monotonic() - t0 < seconds:
        group.request(n=10_000).wait(timeout=120)
        n += 10_000
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    group.close()
    return n / elapsed, n / max(cpu, 1e-9)


# ----------------------------------------------------------------------------- 3. weight change
def weight_flips(g: Galileo, port: int, a: str, b: str, flips: int) -> list[float]:
    """Milliseconds from each routing write to the first answer of the newly weighted backend."""
    answers: list[tuple[int, bytes]] = []
    stop = threading.Event()

    def poll() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        while not stop.is_set():
            try:
                conn.request("GET", "/flip/")
                answers.append((time.monotonic_ns(), conn.getresponse().read()))
            except (OSError, http.client.HTTPException):
                conn.close()  # a slow machine: reconnect and go on
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.close()

    thread = threading.Thread(target=poll, daemon=True)
    g.rtbl.set("flip", [a, b], [1, 0])
    time.sleep(0.5)
    thread.start()
    delays = []
    try:
        for i in range(flips):
            target, weights = (b"b", [0, 1]) if i % 2 == 0 else (b"a", [1, 0])
            time.sleep(0.15)
            mark = len(answers)
            t0 = time.monotonic_ns()
            g.rtbl.set("flip", [a, b], weights)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                hit = next((t for t, body in answers[mark:] if body == target and t > t0), None)
                if hit is not None:
                    delays.append((hit - t0) / 1e6)
                    break
                time.sleep(0.001)
            else:
                delays.append(2000.0)
    finally:
        stop.set()
        thread.join(5)
    return delays


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter phases (a smoke run)")
    ap.add_argument("--phases", default="12345",
                    help="which of the phases 1-5 to run (default all: 12345)")
    ap.add_argument("--serve-backend", nargs=3, metavar=("PORT", "MS", "NAME"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_backend:
        port, ms, name = args.serve_backend
        serve_backend(int(port), float(ms), name)
        return
    work = Path(tempfile.mkdtemp(prefix="galileo-lb-bench-"))
    settings = Settings.from_env({"galileo_data_dir": str(work / "data"),
                                  "galileo_log_level": "WARNING"})
    bus.ensure_embedded_redis(settings.data_dir)
    try:
        result = run_all(settings, work, quick=args.quick, phases=args.phases)
    finally:
        bus.stop_embedded_redis(settings.data_dir)
    print(json.dumps(result))


ANCHORS = (("haproxy", haproxy, "roundrobin"), ("envoy-rr", envoy, "ROUND_ROBIN"),
           ("envoy-lr", envoy, "LEAST_REQUEST"))


def run_all(settings: Settings, work: Path, *, quick: bool, phases: str = "12345"
            ) -> dict[str, Any]:
    runs = 1 if quick else 3
    seconds = 3.0 if quick else 6.0
    result: dict[str, Any] = {}
    rows: list[tuple[str, str, str]] = []
    client = bus.connect(settings)
    with contextlib.ExitStack() as stack:
        procs = stack.enter_context(ProcessGroup(settings, log_dir=work / "logs"))
        load = procs.start("load", ["worker", "--name", "load", "--processes", "1"],
                           cpus=[LOAD_CPU])
        a = stack.enter_context(nginx(work, "a"))
        b = stack.enter_context(nginx(work, "b"))
        # "lb": the balancer as `galileo lb serve` runs once `galileo lb build` was run
        # (compiled with mypyc); "lb-py": the same source, pure Python
        built = compiled_balancer()
        lb_port, lb_pid = stack.enter_context(balancer(settings, work, "bench", built))
        proxies: dict[str, Proxy] = {"lb": Proxy("lb", lb_port, lb_pid)}
        result["lb_compiled"] = built is not None
        if built is not None:
            py_port, py_pid = stack.enter_context(balancer(settings, work, "bench-py", None))
            proxies["lb-py"] = Proxy("lb-py", py_port, py_pid)
        for name, start, policy in ANCHORS:
            anchor = stack.enter_context(start(work, [a, b], policy, name))
            if anchor is None:
                console.print(f"  {name}: not installed, its figures are skipped")
            else:
                proxies[name] = anchor
        g = stack.enter_context(contextlib.closing(Galileo.from_settings(settings)))
        await_worker(g)
        prioritize(load.pid)  # the worker and its load process (started by now)
        g.rtbl.set("pair", [a, b])
        g.rtbl.set("direct", [a, b])
        for name, proxy in proxies.items():
            g.rtbl.set(f"via-{name}", [f"127.0.0.1:{proxy.port}"])
        path = {name: "/pair/" if name.startswith("lb") else "/" for name in proxies}
        console.print(f"[bold]setup[/]: nginx a={a} b={b}; " + ", ".join(
            f"{n} :{p.port}" for n, p in proxies.items())
            + f"; proxies on CPU {PROXY_CPU}, load and backends on CPU {LOAD_CPU}")

        if "1" in phases:
            console.print("[bold]1. capacity: wrk, 64 connections, one proxy process/thread[/]")
            direct_cap = wrk_capacity(f"http://{a}/", seconds, None)
            caps: dict[str, list[Any]] = {n: [] for n in proxies}
            for _ in range(runs):
                for name, proxy in proxies.items():
                    caps[name].append(wrk_capacity(f"http://127.0.0.1:{proxy.port}{path[name]}",
                                                   seconds, proxy.pid))
            wrk_fig: dict[str, dict[str, float]] = {}
            for name, values in caps.items():
                wrk_fig[name] = {
                    "rps": round(statistics.median(c.rps for c in values)),
                    "req_per_cpu_s": round(statistics.median(c.per_cpu_s for c in values)),
                    "proxy_core": round(statistics.median(c.proxy_core for c in values), 2),
                    "user_us_per_req": round(statistics.median(c.user_us for c in values), 1),
                    "sys_us_per_req": round(statistics.median(c.sys_us for c in values), 1)}
                console.print(f"  {name}: {wrk_fig[name]}")
            result["wrk"] = {"direct_rps": round(direct_cap.rps), **wrk_fig}
            for name in proxies:  # per round (the proxies of one round ran back to back)
                if name != "haproxy" and "haproxy" in caps:
                    result[f"{name}_vs_haproxy_per_cpu_s_rounds"] = [
                        round(x.per_cpu_s / max(h.per_cpu_s, 1), 2)
                        for x, h in zip(caps[name], caps["haproxy"], strict=True)]
            if "haproxy" in wrk_fig:
                eff = statistics.median(result["lb_vs_haproxy_per_cpu_s_rounds"])
                result["lb_vs_haproxy_per_cpu_s_wrk"] = round(eff, 2)
                rows.append(("wrk: requests per proxy CPU-second, lb vs HAProxy (median of rounds)",
                             f"{wrk_fig['lb']['req_per_cpu_s']:,} vs "
                             f"{wrk_fig['haproxy']['req_per_cpu_s']:,} = {eff:.2f}x", ">= 0.5x"))
                if "lb-py" in caps:
                    result["lb_py_vs_haproxy_per_cpu_s_wrk"] = round(statistics.median(
                        result["lb-py_vs_haproxy_per_cpu_s_rounds"]), 2)
                    rows.append(("wrk: the same, lb in pure Python (galileo_lb_native=off)",
                                 f"{wrk_fig['lb-py']['req_per_cpu_s']:,} = "
                                 f"{result['lb_py_vs_haproxy_per_cpu_s_wrk']:.2f}x", "-"))
            rows.append(("wrk capacity req/s (proxy's share of its core)", ", ".join(
                f"{n} {f['rps']:,} ({f['proxy_core']:.2f})" for n, f in wrk_fig.items())
                + f"; direct {direct_cap.rps:,.0f}", "direct >> proxies, core ~1"))
            rows.append(("proxy CPU per request, user + system (us)", ", ".join(
                f"{n} {f['user_us_per_req']} + {f['sys_us_per_req']}" for n, f in wrk_fig.items()),
                "-"))
            ours, theirs = [], []
            for _ in range(runs):
                ours.append(max_rps(g, "via-lb", "/pair/", lb_pid, seconds))
                if "haproxy" in proxies:
                    theirs.append(max_rps(g, "via-haproxy", "/", proxies["haproxy"].pid, seconds))
            lb_rps, lb_eff = statistics.median(r for r, _ in ours), statistics.median(
                e for _, e in ours)
            hp_rps = statistics.median(r for r, _ in theirs) if theirs else None
            hp_eff = statistics.median(e for _, e in theirs) if theirs else None
            ratio = lb_rps / hp_rps if hp_rps else None
            result.update(lb_max_rps=round(lb_rps), haproxy_max_rps=round(hp_rps or 0) or None,
                          lb_vs_haproxy=round(ratio, 2) if ratio else None,
                          lb_req_per_cpu_s=round(lb_eff), haproxy_req_per_cpu_s=round(hp_eff or 0))
            rows.append(("Galileo's generator, closed loop: lb vs HAProxy req/s",
                         f"{lb_rps:,.0f} vs {hp_rps or 0:,.0f} = {ratio or 0:.2f}x "
                         f"({lb_eff:,.0f} vs {hp_eff or 0:,.0f} req per proxy CPU-s)", "-"))

        if "2" in phases:
            console.print("[bold]2. added latency at 2,000 req/s (paired: every other request "
                          "direct)[/]")
            added: dict[str, list[tuple[float, float]]] = {n: [] for n in proxies}
            for _ in range(runs):
                for name, proxy in proxies.items():
                    run = paired_latency(g, client, f"127.0.0.1:{proxy.port}", a, b, 2000, seconds)
                    added[name].append((run.added_p50, run.added_p99))
                    console.print(f"  {name}: {run.describe()}")
            add50 = statistics.median(p50 for p50, _ in added["lb"])
            add99 = statistics.median(p99 for _, p99 in added["lb"])
            result.update(added_p50_ms=round(add50, 3), added_p99_ms=round(add99, 3),
                          added_p99_runs_ms=[round(p99, 3) for _, p99 in added["lb"]],
                          added_p99_all_runs_le_1ms=all(p99 <= 1.0 for _, p99 in added["lb"]),
                          anchors_added_ms={n: {"p50": round(statistics.median(x for x, _ in v), 3),
                                                "p99": round(statistics.median(y for _, y in v), 3),
                                                "p99_runs": [round(y, 3) for _, y in v]}
                                            for n, v in added.items() if n != "lb"})
            rows.append(("added latency at 2,000 req/s (p50 / p99, median of runs)", "; ".join(
                f"{n} {statistics.median(x for x, _ in v):.3f} / "
                f"{statistics.median(y for _, y in v):.3f} ms" for n, v in added.items()),
                "lb p99 <= 1 ms every run"))

        if "3" in phases:
            console.print("[bold]3. weight change -> new split observed[/]")
            delays = weight_flips(g, lb_port, a, b, 20 if quick else 60)
            result.update(weight_change_p50_ms=round(pct(delays, 50), 2),
                          weight_change_p99_ms=round(pct(delays, 99), 2))
            rows.append((f"weight change -> new split ({len(delays)} flips, p50 / p99)",
                         f"{pct(delays, 50):.2f} / {pct(delays, 99):.2f} ms", "p99 <= 100 ms"))

        if "4" in phases:
            console.print("[bold]4. backend killed under 1,000 req/s[/]")
            with serial_backend("k1", 0.0) as (k1, p1), serial_backend("k2", 0.0) as (k2, _):
                g.rtbl.set("kill", [k1, k2])
                kill_at: list[int] = []

                def kill(t0: int) -> None:
                    time.sleep(seconds / 3)
                    kill_at.append(time.time_ns())
                    p1.send_signal(signal.SIGKILL)

                traces = open_loop(g, client, "via-lb", "/kill/", 1000, seconds, during=kill)
            failed = sorted(t.done_ns for t in traces if request_failed(t.status, t.error))
            kinds = Counter(t.error or str(t.status) for t in traces
                            if request_failed(t.status, t.error))
            console.print(f"  {len(traces)} requests; failed: {dict(kinds) or 'none'}")
            stop_ms = max(0.0, (failed[-1] - kill_at[0]) / 1e6) if failed else 0.0
            after = sum(1 for t in failed if t > kill_at[0] + 1e9)
            result.update(kill_errors=len(failed), kill_errors_stop_ms=round(stop_ms, 1),
                          kill_errors_after_1s=after)
            rows.append(("backend SIGKILLed at 1,000 req/s: errors stop after",
                         f"{stop_ms:.0f} ms ({len(failed)} errors of {len(traces)}; {after} after "
                         "1 s)", "<= 1 s, then 0"))

        if "5" in phases:
            console.print("[bold]5. policies on a heterogeneous pair (1 ms vs 3 ms, serial)[/]")
            p99_by_policy: dict[str, float] = {}
            with serial_backend("fast", 1.0) as (fast, _), serial_backend("slow", 3.0) as (slow, _):
                g.rtbl.set("het", [fast, slow])
                for policy in ("wrr", "least-outstanding", "p2c", "ewma"):
                    switch_policy(client, settings.namespace, "bench", policy)
                    time.sleep(0.3)
                    values = [pct(latency_ms(open_loop(g, client, "via-lb", "/het/", 500,
                                                       seconds)), 99) for _ in range(runs)]
                    p99_by_policy[policy] = statistics.median(values)
                    console.print(f"  {policy}: p99 {p99_by_policy[policy]:.2f} ms")
                for name, start, policy in ANCHORS[1:]:
                    with start(work, [fast, slow], policy, f"{name}-het") as anchor:
                        if anchor is None:
                            continue
                        g.rtbl.set(f"het-{name}", [f"127.0.0.1:{anchor.port}"])
                        values = [pct(latency_ms(open_loop(g, client, f"het-{name}", "/", 500,
                                                           seconds)), 99) for _ in range(runs)]
                        p99_by_policy[name] = statistics.median(values)
                        console.print(f"  {name}: p99 {p99_by_policy[name]:.2f} ms")
            switch_policy(client, settings.namespace, "bench", "wrr")
            result["policy_p99_ms"] = {k: round(v, 2) for k, v in p99_by_policy.items()}
            beat = (p99_by_policy["least-outstanding"] < p99_by_policy["wrr"]
                    and p99_by_policy["ewma"] < p99_by_policy["wrr"])
            result["latency_aware_beat_wrr"] = beat
            rows.append(("p99 at 500 req/s, 1 ms vs 3 ms backends", ", ".join(
                f"{k} {v:.1f} ms" for k, v in p99_by_policy.items()),
                "least-outstanding and ewma < wrr"))
    client.close()
    table = Table(title="galileo lb")
    for col in ("figure", "measured", "goal"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return result


if __name__ == "__main__":
    main()
