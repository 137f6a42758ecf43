"""Hosts dropping off the network under load, on a real 3-host testbed: a worker host cut off
for 10 s, then the service host cut off for 5 s."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from testbedhelpers import expdb_events, group_rows, running_testbed

from galileo.control.galileo import Galileo
from galileo.testbed import Testbed
from waiting import until

P = "gtbp"
H1, H2, H3 = f"{P}1", f"{P}2", f"{P}3"
RATE = 100.0  # the group's total; each of the two workers sends half
WORKER_CUT_S = 10.0
SERVICE_CUT_S = 5.0
S = 1_000_000_000
POLL_SLACK_S = 0.25  # gone = the 3 s liveness TTL after the last heartbeat, seen by polling


@pytest.fixture(scope="module")
def tb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    with running_testbed(tmp_path_factory.mktemp("tb"), P, 3) as testbed:
        yield testbed


@pytest.fixture(scope="module")
def g(tb: Testbed) -> Iterator[Galileo]:
    with Galileo.from_settings(tb.settings()) as galileo:
        yield galileo


@dataclass
class WorkerCut:
    """What happened around cutting ``H1`` off while it and ``H2`` sent ``RATE`` to ``H3``."""

    exp: str
    gid: str
    cut_ns: int
    heal_ns: int
    closed_ns: int
    gone_after_s: float
    lost: list[str]
    back_after_s: float
    rows: list[dict[str, Any]] = field(default_factory=list)


def _wait_listed(g: Galileo, name: str, listed: bool, timeout_s: float) -> float:
    start = time.monotonic()
    until(lambda: (name in [w.name for w in g.workers()]) == listed, timeout_s,
          f"worker {name} to be {'back' if listed else 'gone'}")
    return time.monotonic() - start


@pytest.fixture(scope="module")
def worker_cut(tb: Testbed, g: Galileo) -> WorkerCut:
    g.rtbl.set("echo", tb.endpoint(H3))
    exp = g.experiment.start(name="worker-partition")
    try:
        cg = g.spawn("echo", 2, hosts=f"{P}[12]", on_worker_loss="degrade")
        cg.rps(RATE)
        time.sleep(1.5)
        cut_ns = time.time_ns()
        tb.partition(H1)
        try:
            gone = _wait_listed(g, H1, False, 6.0)
            cg.check_workers()  # as the watchdog (in the recorder) does, whoever comes first
            lost = cg.lost
            time.sleep(max(0.0, WORKER_CUT_S - (time.time_ns() - cut_ns) / S))
        finally:
            heal_ns = time.time_ns()
            tb.heal(H1)
        back = _wait_listed(g, H1, True, 10.0)
        time.sleep(1.0)
        cg.rps(0)
        cg.close()
        closed_ns = time.time_ns()
    finally:
        g.experiment.stop()
    cut = WorkerCut(exp, cg.gid, cut_ns, heal_ns, closed_ns, gone, lost, back)
    expected = int(RATE / 2 * (heal_ns - cut_ns) / S)

    def h1_in_cut() -> int:
        cut.rows = group_rows(tb, cut.gid)
        return sum(1 for r in cut.rows if r["worker"] == H1 and cut_ns <= r["intended_ns"]
                   < heal_ns)

    until(lambda: h1_in_cut() >= expected - 2, 20, f"{H1}'s buffered traces in the expdb")
    time.sleep(2.0)  # anything still arriving would be a duplicate or a leak
    cut.rows = group_rows(tb, cut.gid)
    return cut


def _in(rows: list[dict[str, Any]], worker: str, start: int, end: int) -> list[dict[str, Any]]:
    return [r for r in rows if r["worker"] == worker and start <= r["intended_ns"] < end]


def test_a_cut_worker_is_reported_gone_within_3_s_and_recorded_lost(
        tb: Testbed, worker_cut: WorkerCut) -> None:
    assert worker_cut.gone_after_s <= 3.0 + POLL_SLACK_S
    assert worker_cut.lost == [H1]
    lost = [e for e in expdb_events(tb, worker_cut.exp) if e["kind"] == "worker_lost"]
    assert [e["name"] for e in lost] == [H1]


def test_the_rest_of_the_group_keeps_its_share_during_the_cut(worker_cut: WorkerCut) -> None:
    during = _in(worker_cut.rows, H2, worker_cut.cut_ns, worker_cut.heal_ns)
    seconds = (worker_cut.heal_ns - worker_cut.cut_ns) / S
    assert len(during) == pytest.approx(RATE / 2 * seconds, rel=0.02)
    assert all(r["status"] == 200 for r in during)


def test_the_worker_returns_and_every_trace_of_the_cut_reaches_the_expdb_once(
        worker_cut: WorkerCut) -> None:
    assert worker_cut.back_after_s <= 5.0
    during = _in(worker_cut.rows, H1, worker_cut.cut_ns, worker_cut.heal_ns)
    seconds = (worker_cut.heal_ns - worker_cut.cut_ns) / S
    assert len(during) == pytest.approx(RATE / 2 * seconds, abs=2)  # its constant schedule
    ids = Counter(r["request_id"] for r in worker_cut.rows)
    assert ids.most_common(1)[0][1] == 1
    assert Counter(r["status"] == 200 or bool(r["error"]) for r in during) == {True: len(during)}


def test_a_closed_group_sends_nothing_more_on_the_returned_worker(worker_cut: WorkerCut) -> None:
    assert [r for r in worker_cut.rows if r["intended_ns"] > worker_cut.closed_ns] == []


def test_every_trace_of_the_cut_carries_the_experiment_it_was_sent_in(
        worker_cut: WorkerCut) -> None:
    sent_in_exp = [r for r in worker_cut.rows if r["intended_ns"] < worker_cut.closed_ns]
    assert Counter(r["exp_id"] for r in sent_in_exp) == {worker_cut.exp: len(sent_in_exp)}


def test_a_cut_service_host_gives_traced_errors_on_schedule_and_recovers_within_1_s(
        tb: Testbed, g: Galileo, worker_cut: WorkerCut) -> None:
    g.rtbl.set("echo", tb.endpoint(H3))
    g.experiment.start(name="service-partition")
    try:
        cg = g.spawn("echo", 1, hosts=H2, timeout_s=1.0)
        cg.rps(RATE)
        time.sleep(1.5)
        cut_ns = time.time_ns()
        tb.partition(H3)
        try:
            time.sleep(SERVICE_CUT_S)
        finally:
            heal_ns = time.time_ns()
            tb.heal(H3)
        time.sleep(3.0)
        cg.rps(0)
        time.sleep(1.5)  # the last requests finish or time out
        cg.close()
    finally:
        g.experiment.stop()
    until(lambda: sum(1 for r in group_rows(tb, cg.gid) if r["intended_ns"] >= heal_ns + 2 * S)
          >= RATE * 0.9, 20, "the traces after the heal")
    rows = group_rows(tb, cg.gid)

    during = _in(rows, H2, cut_ns, heal_ns)
    assert len(during) == pytest.approx(RATE * SERVICE_CUT_S, rel=0.02)  # schedule kept
    lag_ms = sorted((r["sent_ns"] - r["intended_ns"]) / 1e6 for r in during)
    assert lag_ms[int(len(lag_ms) * 0.99)] < 50
    surely_cut = _in(rows, H2, cut_ns + S // 20, heal_ns - S)  # timed out before the heal
    assert surely_cut and all(r["status"] == 0 and r["error"] for r in surely_cut)
    recovered = _in(rows, H2, heal_ns + S, heal_ns + 3 * S)
    assert len(recovered) == pytest.approx(2 * RATE, rel=0.05)
    assert all(r["status"] == 200 for r in recovered)
