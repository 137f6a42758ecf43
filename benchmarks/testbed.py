"""Figures of ``galileo testbed`` (issue 8): up/down time, worker-gone detection after a partition,
traces lost across a 10 s partition, and latency at 500 req/s with added delay. Needs root::

    sudo .venv/bin/python benchmarks/testbed.py            # everything (~4 min)
    sudo .venv/bin/python benchmarks/testbed.py --only latency --seconds 5

The added delay is ``tc netem`` link delay where the kernel has netem, else the echo service's
own response delay (``galileo app serve --delay``); the output says which. The lean worker's
figures come from :func:`lean_worker_figures`.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from galileo.control.galileo import Galileo
from galileo.storage.expdb import ExpDB
from galileo.testbed import LinkSpec, Testbed

PREFIX = "gbench"
H1, H2, H3 = f"{PREFIX}1", f"{PREFIX}2", f"{PREFIX}3"
S = 1_000_000_000
DELAYS_MS = (0, 5, 20)
LATENCY_RPS = 500.0
PARTITION_S = 10.0


def lean_worker_figures() -> None:
    """The lean worker's installed size, package count, idle RSS and ``--help`` time, from a
    fresh venv with ``pip install galileo`` (benchmarks/lean_worker.py; pip not counted)."""
    import os

    from lean_worker import lean_worker_figures as measure  # beside this file

    figures = measure(os.environ.get("GALILEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    print(f"lean worker: {figures['installed_mb']} MB installed (goal <= 80), "
          f"{figures['packages']} packages (<= 25), idle RSS {figures['idle_rss_main_mb']} MB "
          f"(<= 50), `galileo worker --help` {figures['worker_help_wall_s']} s wall / "
          f"{figures['worker_help_cpu_s']} s CPU (<= 0.5), medians")


# ---------------------------------------------------------------------- helpers
def _poll(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)
    return time.monotonic() - start


def _listed(g: Galileo, name: str) -> bool:
    return name in [w.name for w in g.workers()]


def _group_rows(tb: Testbed, gid: str) -> list[dict[str, Any]]:
    with ExpDB(f"sqlite:///{tb.expdb_path}") as db:
        return [r for r in db.traces() if r["group_id"] == gid]


def _log_has(log: Path, words: str) -> bool:
    return words in log.read_text()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------------- figures
def up_down_figures(data: Path, sizes: tuple[int, ...], runs: int) -> None:
    for hosts in sizes:
        ups, downs = [], []
        for _ in range(runs):
            t0 = time.monotonic()
            tb = Testbed.up(hosts, data_dir=data, prefix=PREFIX)
            ups.append(time.monotonic() - t0)
            t0 = time.monotonic()
            tb.down()
            downs.append(time.monotonic() - t0)
        print(f"testbed up   {hosts} hosts: median {statistics.median(ups):5.1f} s "
              f"(runs: {', '.join(f'{u:.1f}' for u in ups)})")
        print(f"testbed down {hosts} hosts: median {statistics.median(downs):5.1f} s "
              f"(runs: {', '.join(f'{d:.1f}' for d in downs)})")


def detection_figures(tb: Testbed, g: Galileo, repeats: int) -> None:
    gone = []
    for _ in range(repeats):
        _poll(lambda: _listed(g, H1), 15, f"{H1} to be listed")
        time.sleep(1.2)  # a fresh heartbeat phase each time
        tb.partition(H1)
        try:
            gone.append(_poll(lambda: not _listed(g, H1), 15, f"{H1} to be reported gone"))
        finally:
            tb.heal(H1)
    print(f"worker gone after partition: median {statistics.median(gone):.2f} s, "
          f"max {max(gone):.2f} s over {repeats} (goal <= 3 s; "
          f"all: {', '.join(f'{x:.2f}' for x in gone)})")


def lost_traces_figure(tb: Testbed, g: Galileo, rps: float = 100.0) -> None:
    """One client on H1 sends a constant ``rps`` to H3 while H1 is cut off for 10 s: every
    slot of its schedule from 1 s before the cut to 2 s after its return must be in the expdb."""
    g.rtbl.set("echo", tb.endpoint(H3))
    _poll(lambda: _listed(g, H1), 15, f"{H1} to be listed")
    cg = g.spawn("echo", 1, hosts=H1)
    cg.rps(rps)
    time.sleep(2)
    cut_ns = time.time_ns()
    tb.partition(H1)
    try:
        time.sleep(PARTITION_S)
    finally:
        heal_ns = time.time_ns()
        tb.heal(H1)
    back = _poll(lambda: _listed(g, H1), 30, f"{H1} to come back")
    time.sleep(2)
    end_ns = time.time_ns()
    time.sleep(12)  # requests cut off time out (10 s) and their traces are written
    cg.close()  # the worker that came back still runs its share: the group closes normally
    rows = _group_rows(tb, cg.gid)
    t0 = min(r["intended_ns"] for r in rows)
    step = S / rps
    first, last = math.ceil((cut_ns - S - t0) / step), math.floor((end_ns - t0) / step)
    window = [r for r in rows if cut_ns - S <= r["intended_ns"] <= end_ns]
    unique = len({r["request_id"] for r in window})
    expected = last - first + 1
    have = sorted({round((r["intended_ns"] - t0) / step) for r in window})
    missing = sorted(set(range(first, last + 1)) - set(have))
    if missing:  # where in the timeline, relative to the cut
        runs, start = [], missing[0]
        for a, b in itertools.pairwise([*missing, None]):
            if b != a + 1:
                runs.append((start, a))
                start = b
        print("missing slots (s from the cut): " + ", ".join(
            f"{(t0 + a * step - cut_ns) / S:+.2f}..{(t0 + b * step - cut_ns) / S:+.2f}"
            for a, b in runs[:10]))
    print(f"traces across a {PARTITION_S:.0f} s partition of the worker host "
          f"({(heal_ns - cut_ns) / S:.1f} s cut, {rps:.0f} req/s): {expected} scheduled from 1 s "
          f"before the cut to 2 s after the return, {unique} in the expdb, lost "
          f"{max(0, expected - unique)}, duplicated {len(window) - unique} "
          f"(worker back {back:.1f} s after heal)")


def _latency_run(tb: Testbed, g: Galileo, port: int, seconds: float) -> tuple[float, float]:
    """p50 and p99 (ms, from the intended send time) of ``LATENCY_RPS`` from H1 to H2:port."""
    g.rtbl.set("echo", tb.endpoint(H2, port))
    cg = g.spawn("echo", 4, hosts=H1, request={"method": "POST", "path": "/echo",
                                               "body": b"x" * 64})
    cg.rps(LATENCY_RPS)
    time.sleep(seconds)
    cg.rps(0)
    time.sleep(1)
    cg.close()
    time.sleep(2)
    rows = [r for r in _group_rows(tb, cg.gid) if r["status"] == 200]
    lat = [(r["done_ns"] - r["intended_ns"]) / 1e6 for r in rows]
    return _pct(lat, 0.5), _pct(lat, 0.99)


def latency_figures(tb: Testbed, g: Galileo, seconds: float, runs: int) -> None:
    """Runs alternate between the delays, so a busy moment of the machine hits all alike."""
    netem = tb.state.netem
    how = ("tc netem on the service host's link (half each way)" if netem
           else "the echo service's own response delay (no netem in this kernel)")
    print(f"latency at {LATENCY_RPS:.0f} req/s from {H1} to echo on {H2}, added delay via {how}, "
          f"medians of {runs} runs of {seconds:g} s:")
    ports = {d: tb.state.service_port if netem or not d else 8090 + d for d in DELAYS_MS}
    extras = [tb.start_process(H2, f"echo-{d}ms", [
        sys.executable, "-m", "galileo.apps", "echo", "--host", "0.0.0.0",
        "--port", str(ports[d]), "--delay", f"{d}ms"]) for d in DELAYS_MS if d and not netem]
    results: dict[int, list[tuple[float, float]]] = {d: [] for d in DELAYS_MS}
    try:
        for extra in extras:
            _poll(partial(_log_has, Path(extra.log), "serving"), 30, "the delayed echo")
        for _ in range(runs):
            for delay_ms in DELAYS_MS:
                if netem:
                    tb.link(H2, LinkSpec(delay_s=delay_ms / 2000))
                results[delay_ms].append(_latency_run(tb, g, ports[delay_ms], seconds))
    finally:
        for extra in extras:
            tb.stop_process(extra)
        if netem:
            tb.link(H2, LinkSpec())
    for delay_ms, pairs in results.items():
        p50 = statistics.median(p for p, _ in pairs)
        p99 = statistics.median(p for _, p in pairs)
        print(f"  +{delay_ms:2d} ms configured: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
              f"(p50 - configured {p50 - delay_ms:5.2f} ms; runs p50 "
              f"{', '.join(f'{p:.1f}' for p, _ in pairs)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("updown", "detect", "lost", "latency", "lean"))
    parser.add_argument("--runs", type=int, default=3, help="up/down runs per size")
    parser.add_argument("--repeats", type=int, default=5, help="partitions for detection")
    parser.add_argument("--seconds", type=float, default=5.0, help="load per latency run")
    parser.add_argument("--latency-runs", type=int, default=3, help="runs per delay")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="galileo-testbed-bench-"))
    Testbed.down_prefix(data, PREFIX)
    if args.only in (None, "lean"):
        lean_worker_figures()
    if args.only in (None, "updown"):
        up_down_figures(data, (3, 8), args.runs)
    if args.only in ("updown", "lean"):
        return
    with Testbed.up(3, data_dir=data, prefix=PREFIX) as tb, \
            Galileo.from_settings(tb.settings()) as g:
        if args.only in (None, "detect"):
            detection_figures(tb, g, args.repeats)
        if args.only in (None, "lost"):
            lost_traces_figure(tb, g)
        if args.only in (None, "latency"):
            latency_figures(tb, g, args.seconds, args.latency_runs)


if __name__ == "__main__":
    main()
