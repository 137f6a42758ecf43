"""Where does ``galileo lb``'s tail at 2,000 req/s come from? Measures instead of guessing.

    .venv/bin/python benchmarks/lb_probe.py [--seconds 8] [--rate 2000]

Runs the balancer (one process, pinned to CPU 1) with probes installed in its own process:

* every cyclic-GC collection (``gc.callbacks``): generation and pause;
* event-loop lag: a callback due every millisecond records how late it ran (a stall of the loop
  -- ours, or the CPU taken by another process -- shows as lag);
* new upstream connections (connection churn to the backends);
* the balancer's own trace of every request: time inside the proxy (``done - received`` minus
  the upstream time) vs the time at the backend.

Load: Galileo's open-loop worker (CPU 0, with two nginx backends) at ``--rate`` req/s, direct
to the backends and via the balancer, with the balancer's trace shipping off and on. Each slow
request (added latency above the p99 of direct) is attributed to what overlapped it: a GC pause,
a loop stall, or neither (then: outside the process -- the kernel, the scheduler, the client).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lb_anchors import LOAD_CPU, PROXY_CPU, pinned, prioritize

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.localenv import ProcessGroup, free_port, settings_env, wait_for_port
from galileo.protocol import Keys, decode_lb_trace_batch, request_failed
from galileo.settings import Settings
from lb import nginx, open_loop, pct

LAG_TICK_S = 0.001
STALL_MS = 0.5  # a loop callback this late counts as a stall


# ----------------------------------------------------------------- inside the balancer process
def probed_balancer(port: int, out: Path, trace: bool) -> None:
    """``galileo lb serve`` in this process, with the probes; writes them to ``out`` at exit."""
    from galileo.lb import server as lb_server
    from galileo.lb.upstream import Upstream
    from galileo.settings import load_settings

    gcs: list[tuple[int, int, float]] = []  # (start wall ns, generation, pause ms)
    stalls: list[tuple[int, float]] = []  # (wall ns, lag ms) for lags >= STALL_MS
    lags: list[float] = []
    connects = [0]
    started: list[int] = [0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter_ns()
        else:
            pause = (time.perf_counter_ns() - started[0]) / 1e6
            gcs.append((time.time_ns(), int(info["generation"]), pause))

    gc.callbacks.append(on_gc)
    make_loop = lb_server.new_event_loop  # type: ignore[attr-defined]

    def loop_with_probe() -> Any:
        loop = make_loop()

        def tick(due: float) -> None:
            now = time.perf_counter()
            lag = (now - due) * 1e3
            lags.append(lag)
            if lag >= STALL_MS:
                stalls.append((time.time_ns(), lag))
            loop.call_at(loop.time() + LAG_TICK_S, tick, now + LAG_TICK_S)

        loop.call_soon(tick, time.perf_counter())
        return loop

    lb_server.new_event_loop = loop_with_probe  # type: ignore[attr-defined]
    made = Upstream.connection_made

    def counted(self: Upstream, transport: Any) -> None:
        connects[0] += 1
        made(self, transport)

    Upstream.connection_made = counted  # type: ignore[method-assign]
    ready: list[int] = []

    def announce(line: str) -> None:  # serving: the start-up collection (quiet_gc) is behind
        ready.append(time.time_ns())
        print(line, flush=True)

    try:
        lb_server.serve(load_settings(), lb_server.LbOptions(
            port=port, name="probe", trace=trace, response_timeout_s=5), announce=announce)
    finally:
        since = ready[0] if ready else 0
        gcs = [c for c in gcs if c[0] >= since]
        out.write_text(json.dumps({"gcs": gcs, "stalls": stalls, "connects": connects[0],
                                   "lag_p50": pct(lags, 50) if lags else 0,
                                   "lag_p99": pct(lags, 99) if lags else 0,
                                   "lag_max": max(lags, default=0), "ticks": len(lags)}))


@contextlib.contextmanager
def balancer(settings: Settings, work: Path, trace: bool) -> Iterator[tuple[int, Path]]:
    port, out = free_port(), work / f"probe-{int(trace)}.json"
    log = open(work / f"probe-{int(trace)}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([*pinned(PROXY_CPU), sys.executable, __file__, "--balancer",
                             str(port), str(out), str(int(trace))],
                            env=settings_env(settings, galileo_log_level="WARNING"),
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for_port("127.0.0.1", port, 30)
        yield port, out
    finally:
        proc.terminate()
        proc.wait()


# ----------------------------------------------------------------- attribution
def attribute(lb_traces: list[Any], probe: dict[str, Any], slow_ms: float) -> dict[str, Any]:
    """Split the requests whose time inside the balancer exceeded ``slow_ms`` by cause."""
    gcs = sorted((t, t + int(p * 1e6)) for t, _, p in probe["gcs"])
    stalls = sorted((t - int(lag * 1e6), t) for t, lag in probe["stalls"])
    gc_starts = [s for s, _ in gcs]
    stall_starts = [s for s, _ in stalls]

    def overlaps(spans: list[tuple[int, int]], starts: list[int], a: int, b: int) -> bool:
        i = bisect.bisect_right(starts, b)
        return any(e >= a for _, e in spans[max(0, i - 8):i])

    causes = {"gc": 0, "loop_stall": 0, "neither": 0}
    inside = []
    answered = [t for t in lb_traces if t.upstream_sent_ns and t.upstream_done_ns]
    for t in answered:
        proxy_ms = ((t.done_ns - t.received_ns) - (t.upstream_done_ns - t.upstream_sent_ns)) / 1e6
        inside.append(proxy_ms)
        if proxy_ms < slow_ms:
            continue
        if overlaps(gcs, gc_starts, t.received_ns, t.done_ns):
            causes["gc"] += 1
        elif overlaps(stalls, stall_starts, t.received_ns, t.done_ns):
            causes["loop_stall"] += 1
        else:
            causes["neither"] += 1
    upstream = [(t.upstream_done_ns - t.upstream_sent_ns) / 1e6 for t in answered]
    return {"inside_p50_ms": round(pct(inside, 50), 3), "inside_p99_ms": round(pct(inside, 99), 3),
            "upstream_p99_ms": round(pct(upstream, 99), 3), "slow_inside": causes}


def latencies(traces: list[Any]) -> list[float]:
    start = min(t.sent_ns for t in traces) + int(1e9)
    return [(t.done_ns - t.sent_ns) / 1e6 for t in traces
            if t.sent_ns >= start and not request_failed(t.status, t.error)]


def run(settings: Settings, work: Path, rate: float, seconds: float) -> dict[str, Any]:
    client = bus.connect(settings)
    keys = Keys(settings.namespace)
    result: dict[str, Any] = {"rate": rate, "seconds": seconds}
    with contextlib.ExitStack() as stack:
        procs = stack.enter_context(ProcessGroup(settings, log_dir=work / "logs"))
        load = procs.start("load", ["worker", "--name", "load", "--processes", "1"],
                           cpus=[LOAD_CPU])
        a = stack.enter_context(nginx(work, "a"))
        b = stack.enter_context(nginx(work, "b"))
        g = stack.enter_context(contextlib.closing(Galileo.from_settings(settings)))
        deadline = time.monotonic() + 30
        while not g.workers() and time.monotonic() < deadline:
            time.sleep(0.1)
        prioritize(load.pid)
        g.rtbl.set("pair", [a, b])
        g.rtbl.set("direct", [a, b])
        direct = latencies(open_loop(g, client, "direct", "/", rate, seconds))
        result["direct_p50_ms"], result["direct_p99_ms"] = (round(pct(direct, 50), 3),
                                                            round(pct(direct, 99), 3))
        print(f"direct: p50 {pct(direct, 50):.3f} ms, p99 {pct(direct, 99):.3f} ms")
        for trace in (False, True):
            with balancer(settings, work, trace) as (port, out):
                g.rtbl.set("via-lb", [f"127.0.0.1:{port}"])
                client.delete(keys.lb_traces)
                via = latencies(open_loop(g, client, "via-lb", "/pair/", rate, seconds))
                lb_traces = [t for _, f in client.xrange(keys.lb_traces)
                             for t in decode_lb_trace_batch(f[b"b"]).traces]
                client.delete(keys.lb_traces)
            probe = json.loads(out.read_text())
            name = "trace_on" if trace else "trace_off"
            by_gen: dict[int, list[float]] = {}
            for _, gen, pause in probe["gcs"]:
                by_gen.setdefault(gen, []).append(pause)
            part: dict[str, Any] = {
                "added_p50_ms": round(pct(via, 50) - pct(direct, 50), 3),
                "added_p99_ms": round(pct(via, 99) - pct(direct, 99), 3),
                "via_p999_ms": round(pct(via, 99.9), 3),
                "gc": {f"gen{k}": {"n": len(v), "max_ms": round(max(v), 3),
                                   "median_ms": round(statistics.median(v), 3)}
                       for k, v in sorted(by_gen.items())},
                "loop_lag_p50_ms": round(probe["lag_p50"], 3),
                "loop_lag_p99_ms": round(probe["lag_p99"], 3),
                "loop_lag_max_ms": round(probe["lag_max"], 3),
                "stalls_over_0_5ms": len(probe["stalls"]),
                "upstream_connects": probe["connects"],
            }
            if lb_traces:
                part.update(attribute(lb_traces, probe, slow_ms=0.5))
            result[name] = part
            print(f"{name}: {json.dumps(part)}")
    client.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--balancer", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.balancer:
        port, out, trace = args.balancer
        probed_balancer(int(port), Path(out), trace == "1")
        return
    work = Path(tempfile.mkdtemp(prefix="galileo-lb-probe-"))
    settings = Settings.from_env({"galileo_data_dir": str(work / "data"),
                                  "galileo_log_level": "WARNING"})
    bus.ensure_embedded_redis(settings.data_dir)
    try:
        result = run(settings, work, args.rate, args.seconds)
    finally:
        bus.stop_embedded_redis(settings.data_dir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
