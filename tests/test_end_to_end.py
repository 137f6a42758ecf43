"""End to end on real parts: Redis, the example service, a worker and a recorder as real
``galileo`` subprocesses, the controller API in this process, SQLite as the expdb."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from galileo.apps.background import start_in_thread
from galileo.control.galileo import Galileo
from galileo.localenv import ProcessGroup
from galileo.settings import Settings
from galileo.storage import ExpDB
from waiting import until


@pytest.fixture
def cluster(settings: Settings) -> Iterator[tuple[Galileo, str, ProcessGroup]]:
    server = start_in_thread(("echo", "classify"))
    procs = ProcessGroup(settings)
    g = Galileo.from_settings(settings)
    try:
        procs.start("worker", ["worker", "--name", "e2e-worker", "--processes", "1"])
        procs.start("recorder", ["recorder"])
        until(lambda: [w.name for w in g.workers()] == ["e2e-worker"], 30, "the worker")
        yield g, f"{server.host}:{server.port}", procs
    finally:
        for group in g.groups():
            group.close()
        procs.stop_all()
        g.close()
        server.stop()


def test_request_ping_spawn_burst_traces(cluster: tuple[Galileo, str, ProcessGroup],
                                         settings: Settings) -> None:
    g, host, _procs = cluster
    g.rtbl.set("echo", [host], [1])

    response = g.request("echo", "POST", "/echo", body=b"hello")
    assert response.status == 200
    assert response.body == b"hello"

    rtts = g.ping()
    assert list(rtts) == ["e2e-worker"]
    assert rtts["e2e-worker"] is not None

    exp_id = g.experiment.start(name="e2e")
    group = g.spawn("echo", num=1, request={"method": "POST", "path": "/echo", "body": b"x"})
    result = group.request(n=3).wait(timeout=10)
    assert result == {"done": 3, "errors": 0}
    group.close()
    g.experiment.stop()

    with ExpDB.from_settings(settings) as db:
        until(lambda: db.count_traces(exp_id) >= 3, 15, "3 traces in the expdb")
        time.sleep(0.5)  # a 4th trace would show up now if one were recorded twice
        traces = db.traces(exp_id)
        experiment = db.get_experiment(exp_id)
    assert len(traces) == 3
    assert {t["status"] for t in traces} == {200}
    assert {t["service"] for t in traces} == {"echo"}
    assert {t["host"] for t in traces} == {host}
    assert {t["worker"] for t in traces} == {"e2e-worker"}
    assert len({t["request_id"] for t in traces}) == 3
    assert all(t["intended_ns"] <= t["sent_ns"] <= t["done_ns"] for t in traces)
    assert experiment is not None and experiment.name == "e2e"


def test_no_route_is_a_trace_not_a_crash(cluster: tuple[Galileo, str, ProcessGroup],
                                         settings: Settings) -> None:
    g, _host, _procs = cluster
    exp_id = g.experiment.start(name="no-route")
    group = g.spawn("nowhere", num=1, check_route=False)  # a route removed under a group
    result = group.request(n=2).wait(timeout=10)
    assert result == {"done": 0, "errors": 2}
    group.close()
    g.experiment.stop()
    with ExpDB.from_settings(settings) as db:
        until(lambda: db.count_traces(exp_id) >= 2, 15, "2 traces")
        traces = db.traces(exp_id)
    assert [t["error"] for t in traces] == ["no_route", "no_route"]
    assert {t["status"] for t in traces} == {0}
    assert [w.name for w in g.workers()] == ["e2e-worker"]  # the worker survived


def test_groups_of_parallel_experiments_keep_their_own_tag(
        cluster: tuple[Galileo, str, ProcessGroup], settings: Settings) -> None:
    g, host, _procs = cluster
    g.rtbl.set("echo", [host], [1])
    current = g.experiment.start(name="current")
    mine = g.spawn("echo", num=1, request={"path": "/echo"})
    side = g.spawn("echo", num=1, request={"path": "/echo"}, exp_id="side-by-side-1")
    assert mine.request(n=2).wait(timeout=10) == {"done": 2, "errors": 0}
    assert side.request(n=3).wait(timeout=10) == {"done": 3, "errors": 0}
    mine.close()
    side.close()
    g.experiment.stop()
    with ExpDB.from_settings(settings) as db:
        until(lambda: db.count_traces() >= 5, 15, "5 traces")
        assert {t["group_id"] for t in db.traces(current)} == {mine.gid}
        assert {t["group_id"] for t in db.traces("side-by-side-1")} == {side.gid}
        assert db.count_traces(current) == 2
        assert db.count_traces("side-by-side-1") == 3
