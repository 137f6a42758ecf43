"""Galileo/ClientGroup plumbing against fake worker loops over real Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from galileo.control import Galileo
from galileo.errors import NotFoundError, NoWorkersError, ValidationError, WorkerError
from galileo.protocol import (
    Burst,
    CloseGroup,
    EventKind,
    Pause,
    Resume,
    SetRate,
    SpawnGroup,
    decode_event,
)

Start = Callable[..., Any]  # the fake_worker fixture (tests/control/conftest.py)

pytestmark = pytest.mark.usefixtures("routed")  # spawn refuses unrouted services


def test_workers_registry_drops_dead(g: Galileo, fake_worker: Start, raw: redis.Redis) -> None:
    fake_worker("pico1", labels={"zone": "eu"})
    fake_worker("pico2", labels={"zone": "us"})
    raw.sadd(g.keys.workers, "ghost")  # registered but its info expired
    assert [w.name for w in g.workers()] == ["pico1", "pico2"]
    assert [w.name for w in g.workers({"zone": "us"})] == ["pico2"]


def test_ping(g: Galileo, fake_worker: Start) -> None:
    fake_worker("a")
    fake_worker("b", silent=True)
    rtts = g.ping(timeout=0.5)
    assert set(rtts) == {"a", "b"}
    assert rtts["a"] is not None and 0 <= rtts["a"] < 500
    assert rtts["b"] is None


def test_spawn_places_least_loaded_and_splits_rate(g: Galileo, fake_worker: Start,
                                                   raw: redis.Redis) -> None:
    w1 = fake_worker("pico1", clients=2)
    w2 = fake_worker("pico2", clients=0)
    other = fake_worker("edge1")
    group = g.spawn("api", 4, hosts="pico[0-9]", rps=40, request={"path": "/x"})
    assert group.service == "api" and len(group.clients) == 4
    assert {w: len(c) for w, c in group.info.placement.items()} == {"pico1": 1, "pico2": 3}
    s1, s2 = w1.commands(SpawnGroup)[0], w2.commands(SpawnGroup)[0]
    assert (s1.rps, s2.rps) == (10.0, 30.0)
    assert s1.request.path == "/x" and s1.gid == group.gid
    assert other.received == []
    assert [x.gid for x in g.groups()] == [group.gid]
    assert g.group(group.gid).clients == group.clients

    change = group.rps(100, ramp=1)
    assert change.shares == {"pico1": 25.0, "pico2": 75.0}
    assert set(change.latency_ms) == {"pico1", "pico2"} and change.max_latency_ms >= 0
    assert w2.commands(SetRate)[0].rps == 75.0 and w2.commands(SetRate)[0].ramp_s == 1
    assert g.group(group.gid).target_rps == 100

    group.pause()
    assert g.group(group.gid).paused
    group.resume()
    assert len(w1.commands(Pause)) == len(w1.commands(Resume)) == 1
    assert other.received == []

    assert group.request(7).wait(timeout=2) == {"done": 7, "errors": 0}
    assert [b.n for b in w1.commands(Burst)] == [2] and [b.n for b in w2.commands(Burst)] == [5]

    group.close()
    assert len(w1.commands(CloseGroup)) == 1 and g.groups() == []
    with pytest.raises(NotFoundError, match=group.gid):
        g.group(group.gid)
    kinds = [decode_event(f[b"e"]).kind for _i, f in raw.xrange(g.keys.events)]
    kinds = [k for k in kinds if k != EventKind.ROUTING_SET]  # the routed fixture's
    assert kinds == [EventKind.GROUP_SPAWN, EventKind.GROUP_RATE, EventKind.GROUP_PAUSE,
                     EventKind.GROUP_RESUME, EventKind.GROUP_CLOSE]  # a report explains a dip


def test_spawn_errors(g: Galileo, fake_worker: Start) -> None:
    with pytest.raises(NoWorkersError, match="no live worker matches"):
        g.spawn("api", hosts="pico*")
    fake_worker("ok")
    fake_worker("mute", silent=True)
    with pytest.raises(ValidationError, match="unknown arrival 'bogus'"):
        g.spawn("api", arrival="bogus")
    with pytest.raises(WorkerError, match="no reply from worker\\(s\\) mute"):
        g.spawn("api", 2, timeout_s=0.5)
    assert g.groups() == []  # the half-spawned group was closed again


def test_unlistening_worker_is_reported(g: Galileo, raw: redis.Redis) -> None:
    from galileo.protocol import WorkerInfo, encode
    raw.hset(g.keys.worker("gone"), "info", encode(WorkerInfo(name="gone", host="h", pid=1,
                                                                processes=1)))
    raw.sadd(g.keys.workers, "gone")
    with pytest.raises(WorkerError, match="gone"):
        g.spawn("api", timeout_s=0.3)


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("X-Port", str(self.server.server_address[1]))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[list[str]]:
    srvs = [ThreadingHTTPServer(("127.0.0.1", 0), _Echo) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in srvs]
    for t in threads:
        t.start()
    yield [f"127.0.0.1:{s.server_address[1]}" for s in srvs]
    for s in srvs:
        s.shutdown()
        s.server_close()


def test_request_uses_routing_weights(g: Galileo, servers: list[str]) -> None:
    with pytest.raises(NotFoundError, match="'web' has no routing record"):
        g.request("web")
    g.rtbl.set("web", servers, [1, 3])
    ports = []
    for _ in range(8):
        resp = g.request("web", "POST", "/echo", json={"a": 1})
        assert resp.status == 201 and resp.json() == {"a": 1} and resp.elapsed_ms > 0
        ports.append(resp.headers["X-Port"])
    p0, p1 = (s.rsplit(":", 1)[1] for s in servers)
    assert (ports.count(p0), ports.count(p1)) == (2, 6)


def test_controller_instructions_drive_groups(g: Galileo, fake_worker: Start) -> None:
    import io

    from rich.console import Console

    from galileo.control.executor import Executor
    from galileo.control.instructions import Dialect, parse_script

    w1 = fake_worker("pico1")
    fake_worker("other")
    buf = io.StringIO()
    slept: list[float] = []
    ex = Executor(g, Dialect.CONTROLLER, Console(file=buf, width=200), sleep=slept.append)
    assert not ex.run(parse_script("spawn pico* api 2\nrps pico? api 30\nsleep 2\nclients\n"
                               "close pico1 api\nexit\necho unreachable", Dialect.CONTROLLER))
    out = buf.getvalue()
    assert "spawned 2 client(s) of api" in out and "pico1(2)" in out
    assert "unreachable" not in out and slept == [2.0]
    assert [c.rps for c in w1.commands(SetRate)] == [30.0]
    assert len(w1.commands(CloseGroup)) == 1 and g.groups() == []
    with pytest.raises(NotFoundError, match="no client group of 'api' runs on workers matching"):
        ex.run(parse_script("close pico* api", Dialect.CONTROLLER))


# ---------------------------------------------------------------------- dead workers
def _die(raw: redis.Redis, g: Galileo, worker: Any, ttl_ms: int = 1000) -> None:
    """The worker process dies: no more answers, its liveness key expires after ``ttl_ms``."""
    worker.stop()
    raw.pexpire(g.keys.worker(worker.name), ttl_ms)


def _events(raw: redis.Redis, g: Galileo, kind: EventKind) -> list[Any]:
    events = [decode_event(f[b"e"]) for _, f in raw.xrange(g.keys.events)]
    return [e for e in events if e.kind == kind]


def test_dead_worker_is_named_within_its_ttl_and_its_share_replaced(
        g: Galileo, fake_worker: Start, raw: redis.Redis) -> None:
    w1, w2 = fake_worker("live1"), fake_worker("dead1")
    group = g.spawn("api", 4, rps=40)  # 2 clients on each
    _die(raw, g, w2)
    t0 = time.monotonic()
    change = group.rps(80, timeout=10)
    took = time.monotonic() - t0
    assert took < 2.5, f"rps() waited {took:.1f} s for a dead worker (TTL 1 s)"
    assert change.lost == ["dead1"]  # never the live worker that applied it
    assert [c.rps for c in w1.commands(SetRate)] == [40.0, 80.0]  # its share, then all of it
    assert group.workers == ["live1"] and group.lost == ["dead1"] and not group.degraded
    assert g.group(group.gid).info.placement.keys() == {"live1"}  # stored for everyone
    [lost] = _events(raw, g, EventKind.WORKER_LOST)
    assert lost.name == "dead1" and lost.data["gid"] == group.gid
    [replaced] = _events(raw, g, EventKind.GROUP_REPLACED)
    assert replaced.data["shares"] == {"live1": 80.0} and replaced.data["lost"] == ["dead1"]
    totals = group.close(timeout=10)
    assert dict(totals) == {"sent": 7, "done": 6, "errors": 1, "late": 0}  # live1's totals
    assert totals.lost == ["dead1"]


def test_degrade_policy_keeps_the_live_share_and_close_keeps_totals(
        g: Galileo, fake_worker: Start, raw: redis.Redis) -> None:
    w1, w2 = fake_worker("live1"), fake_worker("dead1")
    group = g.spawn("api", 4, rps=40, on_worker_loss="degrade")
    _die(raw, g, w2)
    assert group.rps(60).lost == ["dead1"]
    assert w1.commands(SpawnGroup)[0].rps == 20.0
    assert [c.rps for c in w1.commands(SetRate)] == [30.0]  # half: dead1's share is not moved
    assert group.degraded and not _events(raw, g, EventKind.GROUP_REPLACED)
    [degraded] = _events(raw, g, EventKind.GROUP_DEGRADED)
    assert degraded.data["rps_now"] == 30.0
    w3 = fake_worker("dead2")
    group2 = g.spawn("api", 2, hosts="dead2", rps=10)
    _die(raw, g, w3)
    t0 = time.monotonic()
    totals = group2.close(timeout=10)  # only worker dead: no totals, but no 10 s hang
    assert time.monotonic() - t0 < 2.5 and totals.lost == ["dead2"] and totals["sent"] == 0
    with pytest.raises(ValidationError, match="worker-loss policy 'maybe'"):
        g.spawn("api", 1, on_worker_loss="maybe")


def test_bad_members_in_the_registry_sets_are_skipped(g: Galileo, fake_worker: Start,
                                                      raw: redis.Redis) -> None:
    fake_worker("good1")
    raw.sadd(g.keys.workers, "bad name", "x:y", b"\xff\xfe")
    raw.sadd(g.keys.groups, "bad group")
    assert [w.name for w in g.workers()] == ["good1"]
    group = g.spawn("api", 1, rps=5)
    assert [grp.gid for grp in g.groups()] == [group.gid]


def test_a_lost_worker_that_returns_is_closed_or_taken_back(
        g: Galileo, fake_worker: Start, raw: redis.Redis) -> None:
    fake_worker("live1")
    back = fake_worker("ret1")
    replaced = g.spawn("api", 2, rps=40)
    degraded = g.spawn("api", 2, rps=40, on_worker_loss="degrade")
    assert replaced.workers == degraded.workers == ["live1", "ret1"]
    _die(raw, g, back)
    wait_gone = time.monotonic() + 5
    while "ret1" in {w.name for w in g.workers()} and time.monotonic() < wait_gone:
        time.sleep(0.05)
    for grp in (replaced, degraded):
        assert grp.check_workers() == ["ret1"] and grp.lost == ["ret1"]
    again = fake_worker("ret1")  # the same worker is back (its shares still run)
    alive = {w.name for w in g.workers()}
    assert replaced.handle_returned(alive) == ["ret1"]
    assert [c.gid for c in again.commands(CloseGroup)] == [replaced.gid]  # moved: closed
    assert replaced.workers == ["live1"] and replaced.lost == []
    assert degraded.handle_returned(alive) == ["ret1"]
    assert [c.rps for c in again.commands(SetRate)] == [20.0]  # its share of 40, taken back
    assert degraded.workers == ["live1", "ret1"] and not degraded.degraded
    assert len(_events(raw, g, EventKind.GROUP_REJOINED)) == 2
    assert g.group(degraded.gid).workers == ["live1", "ret1"]  # stored for everyone


def test_a_returning_worker_that_was_the_only_one_keeps_its_share(
        g: Galileo, fake_worker: Start, raw: redis.Redis) -> None:
    """With ``replace`` but no other worker to take the share (a partitioned host ran the
    whole group), the returned worker is not closed: nobody else sends the group's load."""
    only = fake_worker("only1")
    group = g.spawn("api", 2, hosts="only1", rps=30)
    _die(raw, g, only)
    wait_gone = time.monotonic() + 5
    while "only1" in {w.name for w in g.workers()} and time.monotonic() < wait_gone:
        time.sleep(0.05)
    assert group.check_workers() == ["only1"] and group.workers == []
    again = fake_worker("only1")
    assert group.handle_returned({w.name for w in g.workers()}) == ["only1"]
    assert again.commands(CloseGroup) == [] and [c.rps for c in again.commands(SetRate)] == [30.0]
    assert g.group(group.gid).workers == ["only1"] and group.lost == []
    [rejoined] = _events(raw, g, EventKind.GROUP_REJOINED)
    assert rejoined.data["taken_back"] == ["only1"]
