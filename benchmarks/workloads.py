"""Solo throughput of every workload service on this machine (the README table).

Each service runs alone in its own process pinned to one core (``--server-cpu``, default the last
core); a closed-loop driver with ``--concurrency`` connections runs on another core, sends the
service's generator requests for ``--seconds`` after a warm-up, and reports completed requests
per second, p50/p99 latency and the server's CPU use (percent of one core)::

    .venv/bin/python benchmarks/workloads.py --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from typing import Any

import psutil

from galileo.apps import spawn_process
from galileo.apps.generators import digits
from galileo.apps.workloads import generators
from galileo.load import HttpClient, build_request, new_event_loop
from galileo.protocol import RequestSpec

# (label, service, generator factory, signature)
CASES: list[tuple[str, str, Any, str]] = [
    ("kv (90 % GET)", "kv", lambda: generators.kv(read_ratio=0.9), "per-request overhead"),
    ("classify", "classify", digits, "CPU (small dense math)"),
    ("checksum (4 MiB)", "checksum", generators.checksum, "CPU + memory bandwidth"),
    ("ycsb A (1000 ops)", "ycsb", lambda: generators.ycsb("a"), "cache misses"),
    ("ycsb B (1000 ops)", "ycsb", lambda: generators.ycsb("b"), "cache misses"),
    ("scenedetect (48 frames)", "scenedetect", generators.scenes, "memory bandwidth"),
    ("superres (64→128)", "superres", generators.superres, "CPU (floating point)"),
]


async def closed_loop(target: str, payloads: list[bytes], concurrency: int, warmup_s: float,
                      seconds: float) -> tuple[int, list[int], int]:
    """Keep ``concurrency`` requests outstanding; (done, latencies ns, errors) in the window."""
    client = HttpClient(timeout_s=30)
    nxt = itertools.cycle(payloads).__next__
    loop = asyncio.get_running_loop()
    start = time.monotonic_ns() + int(warmup_s * 1e9)
    end = start + int(seconds * 1e9)
    latencies: list[int] = []
    errors = [0]
    finished = loop.create_future()
    active = [concurrency]

    def launch() -> None:
        sent = time.monotonic_ns()
        if sent >= end:
            active[0] -= 1
            if not active[0] and not finished.done():
                finished.set_result(None)
            return

        def done(status: int, nbytes: int, error: str) -> None:
            now = time.monotonic_ns()
            if sent >= start:
                if status == 200:
                    latencies.append(now - sent)
                else:
                    errors[0] += 1
            launch()

        client.send(target, nxt(), done)

    for _ in range(concurrency):
        launch()
    await finished
    client.close()
    return len(latencies), latencies, errors[0]


def measure(service: str, factory: Any, args: argparse.Namespace) -> dict[str, float]:
    gen = factory()
    payloads = []
    for _ in range(256):
        r = gen.next_request()
        spec = RequestSpec(method=r["method"], path=r["path"], headers=r.get("headers") or {},
                           body=r.get("body") or None)
        payloads.append(build_request(spec, "127.0.0.1"))
    with spawn_process([service], cpus=[args.server_cpu]) as srv:
        proc = psutil.Process(srv.pid)
        loop = new_event_loop()
        try:
            task = closed_loop(f"127.0.0.1:{srv.port}", payloads, args.concurrency, args.warmup,
                               args.seconds)
            cpu0 = None

            async def main() -> tuple[int, list[int], int]:
                nonlocal cpu0
                fut = asyncio.ensure_future(task)
                await asyncio.sleep(args.warmup)
                cpu0 = sum(proc.cpu_times()[:2])
                return await fut

            done, lat, errors = loop.run_until_complete(main())
            cpu = (sum(proc.cpu_times()[:2]) - (cpu0 or 0.0)) / args.seconds * 100
        finally:
            loop.close()
    lat.sort()
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6) if lat else (lambda q: 0.0)
    return {"rps": done / args.seconds, "p50": pct(0.5), "p99": pct(0.99), "cpu": cpu,
            "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--server-cpu", type=int, default=(os.cpu_count() or 1) - 1)
    parser.add_argument("--only", default="", help="Comma-separated services to measure.")
    args = parser.parse_args()
    client_cpus = {c for c in range(os.cpu_count() or 1) if c != args.server_cpu}
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    only = {s for s in args.only.split(",") if s}
    print("| service | bound by | solo req/s | p50 ms | p99 ms | server CPU % |")
    print("|---|---|---:|---:|---:|---:|")
    for label, service, factory, signature in CASES:
        if only and service not in only:
            continue
        r = measure(service, factory, args)
        print(f"| {label} | {signature} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['cpu']:.0f} |" + (f" ({r['errors']} errors)" if r["errors"] else ""),
              flush=True)


if __name__ == "__main__":
    main()
