from __future__ import annotations

import time

import pytest
import redis
from workerhelpers import Bus, WorkerThread

from galileo.load.localserver import LocalServer
from galileo.protocol import (
    WORKER_TTL_S,
    ArrivalSpec,
    Burst,
    CloseGroup,
    Keys,
    Pause,
    Ping,
    RequestSpec,
    SetRate,
    SpawnGroup,
    decode_group_stats,
    decode_worker_info,
)
from galileo.settings import Settings


def spawn(gid: str, service: str = "api", clients: int = 2, rps: float = 0.0):  # type: ignore[no-untyped-def]
    return lambda corr: SpawnGroup(
        corr=corr, gid=gid, service=service, clients=[f"{gid}-c{i}" for i in range(clients)],
        request=RequestSpec(path="/echo"), arrival=ArrivalSpec(), rps=rps, timeout_s=5,
    )


def test_registers_and_answers_ping(worker: WorkerThread, wbus: Bus,
                                    redis_client: redis.Redis, settings: Settings) -> None:
    keys = Keys(settings.namespace)
    assert redis_client.sismember(keys.workers, settings.worker_name)
    info = decode_worker_info(redis_client.hget(keys.worker(settings.worker_name), "info"))
    assert info.name == settings.worker_name and info.processes == 1
    assert 0 < redis_client.ttl(keys.worker(settings.worker_name)) <= WORKER_TTL_S
    reply = wbus.send(lambda c: Ping(corr=c, sent_ns=time.time_ns()))
    assert reply.ok and reply.worker == settings.worker_name and reply.applied_ns > 0


def test_malformed_command_is_skipped(worker: WorkerThread, wbus: Bus,
                                      redis_client: redis.Redis) -> None:
    redis_client.publish(wbus.keys.worker_commands(wbus.worker), b"\x93garbage")
    assert wbus.send(lambda c: Ping(corr=c, sent_ns=0)).ok


def test_open_loop_traces_stats_and_experiment_tag(
    worker: WorkerThread, wbus: Bus, http_server: LocalServer, redis_client: redis.Redis,
) -> None:
    redis_client.set(wbus.keys.current_experiment, "exp-42")
    redis_client.publish(wbus.keys.control_events, "experiment")
    wbus.set_route("api", [http_server.address], [1])
    assert wbus.send(spawn("g1")).ok
    assert wbus.send(lambda c: SetRate(corr=c, gid="g1", rps=200)).ok
    traces = wbus.wait_traces(lambda ts: len(ts) >= 100)
    assert len(traces) >= 100
    t = traces[-1]
    assert (t.group_id, t.service, t.host, t.worker) == ("g1", "api", http_server.address,
                                                         wbus.worker)
    assert t.exp_id == "exp-42" and t.status == 200 and t.error == "" and t.method == "GET"
    assert {tr.client_id for tr in traces} == {"g1-c0", "g1-c1"}
    assert all(tr.intended_ns <= tr.sent_ns <= tr.done_ns for tr in traces)
    assert abs(traces[0].intended_ns - time.time_ns()) < 10e9
    assert len({tr.request_id for tr in traces}) == len(traces)
    deadline = time.monotonic() + 3
    while not redis_client.xlen(wbus.keys.group_stats("g1")) and time.monotonic() < deadline:
        time.sleep(0.05)
    _, fields = redis_client.xrange(wbus.keys.group_stats("g1"))[-1]
    stats = decode_group_stats(fields[b"s"])
    assert stats.gid == "g1" and stats.target_rps == 200 and stats.hist_intended
    assert wbus.send(lambda c: Pause(corr=c, gid="g1")).ok
    assert wbus.send(lambda c: CloseGroup(corr=c, gid="g1")).ok


def test_burst_close_and_unknown_group(worker: WorkerThread, wbus: Bus,
                                       http_server: LocalServer) -> None:
    wbus.set_route("api", [http_server.address], [1])
    assert wbus.send(spawn("g2", clients=3)).ok
    reply = wbus.send(lambda c: Burst(corr=c, gid="g2", n=10))
    assert reply.ok and reply.data == {"done": 10, "errors": 0}
    assert http_server.requests == 10
    assert wbus.send(lambda c: CloseGroup(corr=c, gid="g2")).ok
    bad = wbus.send(lambda c: SetRate(corr=c, gid="g2", rps=5))
    assert not bad.ok and "unknown group 'g2'" in (bad.error or "")


def test_no_route_is_traced(worker: WorkerThread, wbus: Bus) -> None:
    assert wbus.send(spawn("g3", service="nowhere")).ok
    reply = wbus.send(lambda c: Burst(corr=c, gid="g3", n=3))
    assert reply.data == {"done": 0, "errors": 3}
    traces = wbus.wait_traces(lambda ts: len(ts) >= 3)
    assert [(t.error, t.status, t.host) for t in traces] == [("no_route", 0, "")] * 3


def test_routing_update_is_picked_up(worker: WorkerThread, wbus: Bus) -> None:
    with LocalServer() as a, LocalServer() as b:
        wbus.set_route("api", [a.address], [1])
        assert wbus.send(spawn("g4", clients=1)).ok
        assert wbus.send(lambda c: Burst(corr=c, gid="g4", n=2)).data["done"] == 2
        wbus.set_route("api", [a.address, b.address], [1, 3])
        time.sleep(0.1)  # the update must be applied within 100 ms
        assert wbus.send(lambda c: Burst(corr=c, gid="g4", n=4)).data["done"] == 4
        assert (a.requests, b.requests) == (3, 3)
        assert wbus.send(lambda c: CloseGroup(corr=c, gid="g4")).ok


def test_tracing_off_sends_without_traces(worker: WorkerThread, wbus: Bus,
                                          http_server: LocalServer,
                                          redis_client: redis.Redis) -> None:
    redis_client.set(wbus.keys.tracing, "off")
    redis_client.publish(wbus.keys.control_events, "tracing")
    wbus.set_route("api", [http_server.address], [1])
    time.sleep(0.1)
    assert wbus.send(spawn("g5")).ok
    assert wbus.send(lambda c: Burst(corr=c, gid="g5", n=5)).data["done"] == 5
    time.sleep(0.3)
    assert wbus.traces() == []


@pytest.mark.slow
def test_two_processes_split_and_merge(settings: Settings, wbus: Bus,
                                       http_server: LocalServer) -> None:
    w = WorkerThread(settings, processes=2).start()
    try:
        wbus.set_route("api", [http_server.address], [1])
        assert wbus.send(spawn("g6", clients=4)).ok
        reply = wbus.send(lambda c: Burst(corr=c, gid="g6", n=9))
        assert reply.data == {"done": 9, "errors": 0}
        assert wbus.send(lambda c: SetRate(corr=c, gid="g6", rps=100)).ok
        traces = wbus.wait_traces(lambda ts: len(ts) >= 60)
        assert {t.client_id for t in traces} == {f"g6-c{i}" for i in range(4)}
        assert wbus.send(lambda c: CloseGroup(corr=c, gid="g6")).ok
    finally:
        w.stop()
