"""The balancer's Python per request, without sockets: compiled (mypyc) vs pure Python.

    .venv/bin/python benchmarks/lb_hotpath.py [--requests 20000] [--rounds 15]

One client connection and two keep-alive backend connections with stand-in transports (they
keep what is written); each request is a ``wrk``-like GET fed to the client side, the write
batch flushed, an nginx-like response (six headers, one body byte) fed to the backend side and
flushed again: everything the balancer's own code does for a request, none of the kernel's or
the event loop's work. Each variant runs in its own process (``galileo_lb_native=off``, and
``require`` on the build ``galileo lb build`` made, built first when missing); the figure is the
best round (the least disturbed by other work), and the ratio is taken between the two.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

REQUEST = b"GET /pair/ HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 18:40:00 GMT\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 1\r\n"
            b"Connection: keep-alive\r\nX-Backend: a\r\n\r\na")

console = Console(stderr=True)


class StandInTransport:
    """What the balancer writes to is kept (and dropped between rounds)."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class NoLoop:
    """The write batch and the deadlines schedule on this: flushed by hand, nothing expires."""

    def call_soon(self, *args: Any) -> None:
        pass

    def call_later(self, *args: Any) -> None:
        return None


def measure(variant: str, requests: int, rounds: int) -> dict[str, Any]:
    """Per-request microseconds of one variant (run in a process of its own)."""
    from galileo.lb import native
    from galileo.settings import default_data_dir

    native.activate("off" if variant == "pure" else "require", default_data_dir())
    from galileo.lb.balancer import Balancer, ProxyConfig
    from galileo.lb.policies import load_policy
    from galileo.lb.proxy import ClientConnection
    from galileo.lb.upstream import Upstream
    from galileo.protocol import RoutingRecord

    assert native.running() == ("pure Python" if variant == "pure" else "compiled with mypyc")
    balancer = Balancer(ProxyConfig(), load_policy("wrr"))
    hosts = ["127.0.0.1:1", "127.0.0.1:2"]
    balancer.update_route("pair", RoutingRecord(service="pair", hosts=hosts, weights=[1.0, 1.0],
                                                version=1))
    balancer.writes._loop = NoLoop()  # type: ignore[assignment]
    balancer.deadlines._loop = NoLoop()  # type: ignore[assignment]
    transports = []
    for host in hosts:
        upstream = Upstream(balancer.pool, host)
        upstream.transport = StandInTransport()  # type: ignore[assignment]
        upstream.keep_alive = True
        transports.append(upstream.transport)
        balancer.pool.release(upstream)
    client = ClientConnection(balancer, set())
    client_transport = StandInTransport()
    client.connection_made(client_transport)  # type: ignore[arg-type]
    flush = balancer.writes.flush_all
    gc.disable()
    best = best_upstream = float("inf")
    for _ in range(rounds):
        upstream_s = 0.0
        t0 = time.perf_counter()
        for _ in range(requests):
            client.data_received(REQUEST)
            active = client._active
            assert active is not None and active.upstream is not None
            conn = active.upstream
            flush()
            t1 = time.perf_counter()
            conn.data_received(RESPONSE)
            flush()
            upstream_s += time.perf_counter() - t1
        elapsed = time.perf_counter() - t0
        answers = len(client_transport.out)
        assert answers == requests, f"{answers} responses to {requests} requests"
        client_transport.out.clear()
        for transport in transports:
            transport.out.clear()
        best = min(best, elapsed / requests * 1e6)
        best_upstream = min(best_upstream, upstream_s / requests * 1e6)
    return {"variant": variant, "us_per_request": round(best, 2),
            "us_response_side": round(best_upstream, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000, help="requests per round")
    ap.add_argument("--rounds", type=int, default=15, help="rounds (the best is reported)")
    ap.add_argument("--variant", choices=["pure", "compiled"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.requests, args.rounds)))
        return
    from galileo.errors import ConfigError
    from galileo.lb import native
    from galileo.settings import default_data_dir

    variants = ["pure"]
    try:
        if not native.status(default_data_dir())[0]:
            with console.status("building the compiled balancer (galileo lb build)"):
                native.build(default_data_dir())
        variants.append("compiled")
    except ConfigError as e:
        console.print(f"compiled balancer not available ({e}): pure Python only")
    results: dict[str, dict[str, Any]] = {}
    for variant in variants:
        with console.status(f"{variant}: {args.rounds} rounds of {args.requests:,} requests"):
            out = subprocess.run([sys.executable, __file__, "--variant", variant,
                                  "--requests", str(args.requests), "--rounds", str(args.rounds)],
                                 capture_output=True, text=True, check=True).stdout
        results[variant] = json.loads(out.strip().splitlines()[-1])
    table = Table(title="galileo lb: Python per request, in-process (best round)")
    for col in ("variant", "µs / request", "of which the response side"):
        table.add_column(col)
    for variant, r in results.items():
        table.add_row(variant, f"{r['us_per_request']:.2f}", f"{r['us_response_side']:.2f}")
    console.print(table)
    line: dict[str, Any] = {v: r["us_per_request"] for v, r in results.items()}
    if "compiled" in results:
        line["pure_over_compiled"] = round(results["pure"]["us_per_request"]
                                           / results["compiled"]["us_per_request"], 2)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
