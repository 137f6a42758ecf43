"""What must hold across hosts, on one real 3-host testbed: placement, traces naming their
host, latency including the path, a rate-limited link, routing across hosts, one clock."""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbedhelpers import expdb_rows, running_testbed

from galileo.control.galileo import Galileo
from galileo.testbed import LinkSpec, Testbed
from galileo.testbed.netns import netem_available
from waiting import until

P = "gtbc"
H1, H2, H3 = f"{P}1", f"{P}2", f"{P}3"
DELAYED_PORT = 8081
SERVICE_DELAY_MS = 10.0


@pytest.fixture(scope="module")
def tb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    with running_testbed(tmp_path_factory.mktemp("tb"), P, 3, zones=["a", "b"]) as testbed:
        yield testbed


@pytest.fixture(scope="module")
def g(tb: Testbed) -> Iterator[Galileo]:
    with Galileo.from_settings(tb.settings()) as galileo:
        yield galileo


def _load(tb: Testbed, g: Galileo, service: str, *, hosts: str, rps: float, seconds: float,
          body: bytes = b"x" * 64, timeout_s: float = 10, num: int = 1) -> list[dict[str, Any]]:
    """Run ``rps`` for ``seconds`` from ``hosts`` in a fresh experiment; its traces."""
    exp = g.experiment.start(name=f"{service}-{hosts}")
    try:
        cg = g.spawn(service, num, hosts=hosts, timeout_s=timeout_s,
                     request={"method": "POST", "path": "/echo", "body": body})
        cg.rps(rps)
        time.sleep(seconds)
        cg.rps(0)
        stopped_s = int(time.time())

        def drained() -> bool:
            newest = cg.stats(3)
            return bool(newest) and newest[-1].second > stopped_s and newest[-1].inflight == 0

        until(drained, timeout_s + 5, "the requests in flight to finish")
        totals = cg.close(timeout=timeout_s + 5)
    finally:
        g.experiment.stop()
    expected = int(totals["sent"])
    assert expected > 0
    until(lambda: len(expdb_rows(tb, exp)) >= expected, 20, f"{expected} traces in the expdb")
    return expdb_rows(tb, exp)


def _p50_ms(rows: list[dict[str, Any]]) -> float:
    return float(statistics.median((r["done_ns"] - r["intended_ns"]) / 1e6 for r in rows))


def test_placement_by_host_pattern_labels_and_least_loaded(tb: Testbed, g: Galileo) -> None:
    infos = {w.name: w for w in g.workers()}
    assert sorted(infos) == [H1, H2, H3]
    assert all(infos[h].host == h for h in infos)  # each worker sees its host's name
    assert {h: infos[h].labels["zone"] for h in infos} == {H1: "a", H2: "b", H3: "a"}

    g.rtbl.set("echo", tb.endpoint(H3))  # spawn refuses an unrouted service
    by_pattern = g.spawn("echo", 2, hosts=f"{P}[1-2]")
    by_zone = g.spawn("echo", 2, worker_labels={"zone": "a"})
    try:
        assert by_pattern.workers == [H1, H2]
        assert by_zone.workers == [H1, H3]
        until(lambda: {w.name: w.clients for w in g.workers()} == {H1: 2, H2: 1, H3: 1}, 5,
              "the workers' heartbeats to report their clients")
        spread = g.spawn("echo", 4)  # least loaded first: H2, H3, then ties by name
        try:
            assert {w: len(c) for w, c in spread.info.placement.items()} == {H1: 1, H2: 2,
                                                                             H3: 1}
        finally:
            spread.close()
    finally:
        by_pattern.close()
        by_zone.close()

    g.rtbl.set("echo", tb.endpoint(H3))
    rows = _load(tb, g, "echo", hosts=f"{P}[12]", rps=100, seconds=1.0, num=2)
    assert set(Counter(r["worker"] for r in rows)) == {H1, H2}  # traces name their worker
    assert {r["host"] for r in rows} == {f"{H3}:8080"} and all(r["status"] == 200 for r in rows)


def test_routing_splits_load_1_to_3_between_hosts(tb: Testbed, g: Galileo) -> None:
    g.rtbl.set("echo", [tb.endpoint(H2), tb.endpoint(H3)], [1, 3])
    rows = _load(tb, g, "echo", hosts=H1, rps=200, seconds=2.0)
    hosts = Counter(r["host"] for r in rows)
    assert set(hosts) == {f"{H2}:8080", f"{H3}:8080"}
    assert hosts[f"{H3}:8080"] / hosts[f"{H2}:8080"] == pytest.approx(3.0, rel=0.05)
    assert all(r["status"] == 200 and r["worker"] == H1 for r in rows)


def test_latency_includes_the_path(tb: Testbed, g: Galileo) -> None:
    """10 ms on the path (the service's own delay; netem's link delay where the kernel has
    it) shows in p50 measured from the intended send time, from another host."""
    proc = tb.start_process(H3, "echo-delayed", [
        sys.executable, "-m", "galileo.apps", "echo", "--host", "0.0.0.0",
        "--port", str(DELAYED_PORT), "--delay", f"{SERVICE_DELAY_MS:g}ms"])
    try:
        until(lambda: "serving" in Path(proc.log).read_text(), 30, "the delayed echo")
        g.rtbl.set("slow", tb.endpoint(H3, DELAYED_PORT))
        g.rtbl.set("echo", tb.endpoint(H3))
        slow = _load(tb, g, "slow", hosts=H1, rps=100, seconds=1.5)
        fast = _load(tb, g, "echo", hosts=H1, rps=100, seconds=1.5)
    finally:
        tb.stop_process(proc)
    assert all(r["status"] == 200 for r in slow + fast)
    assert _p50_ms(slow) >= SERVICE_DELAY_MS
    assert _p50_ms(slow) - _p50_ms(fast) >= 0.8 * SERVICE_DELAY_MS
    if netem_available():
        tb.link(H3, LinkSpec.parse(delay="10ms"))
        try:
            linked = _load(tb, g, "echo", hosts=H1, rps=100, seconds=1.5)
        finally:
            tb.link(H3, LinkSpec())
        assert _p50_ms(linked) >= 10.0


def test_a_rate_limited_link_shows_in_throughput_and_latency(tb: Testbed, g: Galileo) -> None:
    body = b"z" * 32_000  # 256 kbit each way per request
    n_rps, seconds = 10, 2.0
    g.rtbl.set("echo", tb.endpoint(H2))
    free = _load(tb, g, "echo", hosts=H1, rps=n_rps, seconds=seconds, body=body, timeout_s=30)
    tb.link(H3, LinkSpec.parse(rate="1mbit"))
    try:
        g.rtbl.set("echo", tb.endpoint(H3))
        limited = _load(tb, g, "echo", hosts=H1, rps=n_rps, seconds=seconds, body=body,
                        timeout_s=30)
    finally:
        tb.link(H3, LinkSpec())
    assert all(r["status"] == 200 and r["bytes_received"] >= len(body) for r in free + limited)

    def span_s(rows: list[dict[str, Any]]) -> float:
        return float(max(r["done_ns"] for r in rows) - min(r["intended_ns"] for r in rows)) / 1e9

    bits = sum(r["bytes_received"] for r in limited) * 8
    assert bits / span_s(limited) <= 1.1e6  # never faster than the link
    assert span_s(limited) >= 0.9 * bits / 1e6
    assert span_s(free) < seconds + 1.0  # the unshaped host keeps up with the schedule
    assert _p50_ms(limited) > 5 * _p50_ms(free)


def test_hosts_share_one_clock_and_traces_fall_inside_the_controller_window(
        tb: Testbed, g: Galileo) -> None:
    """Each worker stamps traces with its own clock; on a testbed that is the one kernel
    clock, so stamps from every host line up with the controller's (docs/testbed.md)."""
    for host in (H1, H2, H3, "control"):
        before = time.time_ns()
        out = tb.run(host, [sys.executable, "-c", "import time; print(time.time_ns())"],
                     capture=True)
        after = time.time_ns()
        assert before <= int(out.stdout) <= after
    g.rtbl.set("echo", [tb.endpoint(H1), tb.endpoint(H2), tb.endpoint(H3)])
    start = time.time_ns()
    rows = _load(tb, g, "echo", hosts=f"{P}*", rps=150, seconds=1.0, num=3)
    end = time.time_ns()
    assert {r["worker"] for r in rows} == {H1, H2, H3}
    for r in rows:
        assert start <= r["intended_ns"] <= r["sent_ns"] <= r["done_ns"] <= end
