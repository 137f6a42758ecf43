"""`galileo lb` across hosts, on one real 4-host testbed (docs/testbed.md): the balancer runs on
one host, its backends are the echo services of two others, the clients run on a fourth, so
every byte crosses the virtual network. Split by weight, live weight changes, a backend host
partitioned under load (passive ejection) and healed."""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.testbed.testbedhelpers import expdb_rows, running_testbed
from tests.waiting import until

from galileo.control.galileo import Galileo
from galileo.storage.expdb import ExpDB
from galileo.testbed import Testbed
from galileo.testbed.netns import list_namespaces
from galileo.testbed.processes import alive
from galileo.testbed.state import owned_namespace

P = "gtlb"
LB, B2, B3, CLIENT = f"{P}1", f"{P}2", f"{P}3", f"{P}4"  # balancer, backends, worker
LB_PORT = 8000
FRONT = "front"  # the clients' service: the balancer; it routes /echo/... by `echo`'s record
RATE = 200.0
CLIENT_TIMEOUT_S = 5.0
S = 1_000_000_000
# the balancer's timeouts and back-off, short so a partition shows within seconds
LB_OPTIONS = ["--connect-timeout", "0.5", "--response-timeout", "1", "--max-failures", "3",
              "--backoff", "0.5"]
CUT_S = 6.0  # how long the backend host is cut off
ERRORS_STOP_S = 3.0  # after the cut: generous for a loaded machine (about 0.05 s measured)
# goal: 100 ms (benchmarks/lb.py); the bound is generous yet below the balancer's 1 s full
# re-read of the routing table, so it guards the pub/sub path (measured: a few ms)
WEIGHT_EFFECT_S = 0.5


@dataclass
class Run:
    """One experiment of load from ``CLIENT`` through the balancer: its client and lb traces."""

    exp: str
    marks: dict[str, int] = field(default_factory=dict)  # wall-clock ns of what the test did
    rows: list[dict[str, Any]] = field(default_factory=list)
    lb_rows: list[dict[str, Any]] = field(default_factory=list)

    def lb_between(self, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        return [r for r in self.lb_rows if start_ns <= r["received_ns"] < end_ns]


def _lb_rows(tb: Testbed, exp: str) -> list[dict[str, Any]]:
    with ExpDB(f"sqlite:///{tb.expdb_path}") as db:
        return sorted(db.lb_traces(exp), key=lambda r: int(r["received_ns"]))


@pytest.fixture(scope="module")
def tb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    data_dir = tmp_path_factory.mktemp("tb")
    pids: list[int] = []
    with running_testbed(data_dir, P, 4) as testbed:
        proc = testbed.start_process(LB, "lb", [
            sys.executable, "-m", "galileo", "lb", "serve", "--host", "0.0.0.0",
            "--port", str(LB_PORT), *LB_OPTIONS])
        pids.append(proc.pid)
        until(lambda: "galileo lb: serving" in Path(proc.log).read_text() or not alive(proc.pid),
              60, f"galileo lb serve on {LB}")
        assert alive(proc.pid), Path(proc.log).read_text()
        yield testbed
    # nothing left behind: the balancer and every namespace of the testbed are gone
    assert not [p for p in pids if alive(p)]
    assert not [n for n in list_namespaces() if owned_namespace(P, n)]


@pytest.fixture(scope="module")
def g(tb: Testbed) -> Iterator[Galileo]:
    with Galileo.from_settings(tb.settings()) as galileo:
        galileo.rtbl.set(FRONT, tb.endpoint(LB, LB_PORT))
        yield galileo


@contextlib.contextmanager
def _load(tb: Testbed, g: Galileo, name: str) -> Iterator[Run]:
    """``RATE`` req/s from ``CLIENT`` to the balancer while the block runs; then every client and
    lb trace of the run (all requests finished first)."""
    run = Run(exp=g.experiment.start(name=name))
    try:
        cg = g.spawn(FRONT, 1, hosts=CLIENT, timeout_s=CLIENT_TIMEOUT_S,
                     request={"method": "GET", "path": "/echo/echo"})
        try:
            cg.rps(RATE)
            yield run
        except BaseException:
            cg.close()
            raise
        cg.rps(0)
        stopped_s = int(time.time())

        def drained() -> bool:
            newest = cg.stats(3)
            return bool(newest) and newest[-1].second > stopped_s and newest[-1].inflight == 0

        until(drained, CLIENT_TIMEOUT_S + 5, "the requests in flight to finish")
        sent = int(cg.close(timeout=CLIENT_TIMEOUT_S + 5)["sent"])
    finally:
        g.experiment.stop()
    assert sent > 0
    until(lambda: len(expdb_rows(tb, run.exp)) >= sent, 30, f"{sent} client traces")
    try:  # (once, in a loaded CI run, 20 s were not enough: say how far it got)
        until(lambda: len(_lb_rows(tb, run.exp)) >= sent, 30, f"{sent} lb traces")
    except AssertionError as e:
        raise AssertionError(f"{e}: {len(_lb_rows(tb, run.exp))} of {sent} lb traces and "
                             f"{len(expdb_rows(tb, run.exp))} client traces of {run.exp} "
                             "stored") from None
    run.rows, run.lb_rows = expdb_rows(tb, run.exp), _lb_rows(tb, run.exp)
    assert len(run.rows) == len(run.lb_rows) == sent  # one lb trace per client request


def test_load_through_the_balancer_splits_1_to_3_between_backend_hosts(
        tb: Testbed, g: Galileo) -> None:
    g.rtbl.set("echo", [tb.endpoint(B2), tb.endpoint(B3)], [1, 3])
    with _load(tb, g, "lb-split") as run:
        time.sleep(2.0)
    # the clients on CLIENT talked to the balancer's host only, and every request succeeded
    assert {(r["worker"], r["host"], r["status"]) for r in run.rows} == {
        (CLIENT, tb.endpoint(LB, LB_PORT), 200)}
    assert {(r["lb"], r["service"], r["policy"], r["status"], r["attempts"])
            for r in run.lb_rows} == {("lb", "echo", "wrr", 200, 1)}
    by_backend = Counter(r["backend"] for r in run.lb_rows)
    assert set(by_backend) == {tb.endpoint(B2), tb.endpoint(B3)}
    # smooth wrr: every 4 picks are exactly 1:3, so the counts are off by at most a pick
    assert abs(by_backend[tb.endpoint(B3)] - 3 * by_backend[tb.endpoint(B2)]) <= 3
    for r in run.lb_rows:  # the balancer's own stamps, on the one clock of the testbed
        assert r["received_ns"] <= r["upstream_sent_ns"] <= r["upstream_done_ns"] <= r["done_ns"]


def _effect_s(run: Run, mark: str, until_mark: str, old: str, new: str) -> float:
    """Seconds from the routing change ``mark`` to the last request the balancer still sent to
    ``old`` (0 when none); checks ``old`` was used just before and ``new`` is used after."""
    at, end = run.marks[mark], run.marks[until_mark]
    before = run.lb_between(at - S // 2, at)
    assert sum(1 for r in before if r["backend"] == old) >= 10, "the old split before the change"
    after = run.lb_between(at, end)
    last_old = max((r["received_ns"] for r in after if r["backend"] == old), default=at)
    settled = [r for r in after if r["received_ns"] > last_old]
    assert {r["backend"] for r in settled} == {new}
    assert len(settled) >= 0.5 * RATE * (end - last_old) / S
    return (last_old - at) / S


def test_a_weight_change_is_in_effect_on_the_balancer_host_within_half_a_second(
        tb: Testbed, g: Galileo) -> None:
    b2, b3 = tb.endpoint(B2), tb.endpoint(B3)
    g.rtbl.set("echo", [b2, b3], [1, 3])
    with _load(tb, g, "lb-weights") as run:
        time.sleep(1.0)
        run.marks["to_b2"] = time.time_ns()
        g.rtbl.set("echo", [b2, b3], [1, 0])
        time.sleep(1.5)
        run.marks["to_b3"] = time.time_ns()
        g.rtbl.set("echo", [b2, b3], [0, 1])
        time.sleep(1.5)
        run.marks["end"] = time.time_ns()
    assert all(r["status"] == 200 for r in run.rows + run.lb_rows)
    to_b2 = _effect_s(run, "to_b2", "to_b3", old=b3, new=b2)
    to_b3 = _effect_s(run, "to_b3", "end", old=b2, new=b3)
    print(f"weight change in effect on the balancer after {to_b2 * 1e3:.1f} ms and "
          f"{to_b3 * 1e3:.1f} ms")
    assert to_b2 <= WEIGHT_EFFECT_S and to_b3 <= WEIGHT_EFFECT_S


def test_a_partitioned_backend_host_is_ejected_and_used_again_after_heal(
        tb: Testbed, g: Galileo) -> None:
    b2, b3 = tb.endpoint(B2), tb.endpoint(B3)
    g.rtbl.set("echo", [b2, b3], [1, 3])
    with _load(tb, g, "lb-partition") as run:
        time.sleep(1.5)
        run.marks["cut"] = time.time_ns()
        tb.partition(B3)
        try:
            time.sleep(CUT_S)
        finally:
            run.marks["heal"] = time.time_ns()
            tb.heal(B3)
        heal = run.marks["heal"]

        def b3_back() -> bool:
            time.sleep(0.2)  # each look reads the run's lb traces: not 50 times a second
            return any(r["backend"] == b3 and r["status"] == 200 and r["received_ns"] > heal
                       for r in _lb_rows(tb, run.exp))

        until(b3_back, 15, f"the balancer to use {B3} again after the heal")
        time.sleep(1.0)
        run.marks["end"] = time.time_ns()
    cut, end = run.marks["cut"], run.marks["end"]
    # the requests stuck on B3 at the cut fail: a 504 (or 502) from the balancer, which traced
    # a timeout (connect failure) on B3; a connect failure later goes to B2 (a retry)
    failed = [r for r in run.rows if r["status"] != 200]
    lb_failed = [r for r in run.lb_rows if r["status"] != 200]
    assert failed and {r["status"] for r in failed} <= {502, 504}
    assert Counter(r["status"] for r in lb_failed) == Counter(r["status"] for r in failed)
    assert {(r["backend"], r["error"]) for r in lb_failed} <= {(b3, "timeout"), (b3, "connect")}
    last_failure_s = (max(r["intended_ns"] for r in failed) - cut) / S
    assert 0 <= last_failure_s <= ERRORS_STOP_S
    # from then on every request succeeds, on B2 alone while B3 is cut off
    ok_window = [r for r in run.rows if cut + ERRORS_STOP_S * S <= r["intended_ns"] < end]
    assert len(ok_window) == pytest.approx(RATE * (end - cut) / S - RATE * ERRORS_STOP_S,
                                           rel=0.1)
    assert all(r["status"] == 200 for r in ok_window)
    # (up to 1 s before the heal: a connect to B3 begun just before it may complete after it)
    while_cut = run.lb_between(cut + int(ERRORS_STOP_S * S), heal - S)
    assert while_cut and {(r["backend"], r["status"]) for r in while_cut} == {(b2, 200)}
    # ejected, B3 is not even tried: only the requests of the first failures and of the probes
    # after each back-off go to B3 first (connect timeout, then B2); without ejection 3 in 4 would
    cut_rows = run.lb_between(cut, heal)
    retried = sum(1 for r in cut_rows if r["attempts"] > 1) / len(cut_rows)
    assert retried <= 0.5
    # after the heal B3 takes its share again
    back_ns = min(r["received_ns"] for r in run.lb_between(heal, end)
                  if r["backend"] == b3 and r["status"] == 200)
    tail = Counter(r["backend"] for r in run.lb_between(back_ns + S // 2, end))
    assert tail[b2] + tail[b3] >= 0.25 * RATE and tail[b3] >= 0.6 * (tail[b2] + tail[b3])
    print(f"errors stopped {last_failure_s:.2f} s after the cut, {retried:.0%} of the requests"
          f" during the cut tried {B3} first; {B3} used again {(back_ns - heal) / S:.2f} s after"
          " the heal")
