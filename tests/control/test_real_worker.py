"""Controller against the real in-process ``galileo.worker.Worker`` and a real HTTP server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from galileo.control import Galileo
from galileo.errors import WorkerError
from galileo.settings import Settings
from waiting import until

worker_mod = pytest.importorskip("galileo.worker")


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def real_worker(settings: Settings, g: Galileo) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    holder: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        worker = worker_mod.Worker(settings, name="real1", processes=1)
        holder["worker"] = worker
        loop.run_until_complete(worker.run())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    until(lambda: [w.name for w in g.workers()] == ["real1"], 5, "the worker")
    yield "real1"
    loop.call_soon_threadsafe(holder["worker"].request_stop)  # type: ignore[attr-defined]
    thread.join(timeout=10)
    loop.close()


def test_spawn_burst_rate_pause_close(g: Galileo, real_worker: str, service: str) -> None:
    g.rtbl.set("api", service)
    assert g.ping()[real_worker] is not None
    group = g.spawn("api", 2, hosts="real*")
    assert group.workers == [real_worker]
    assert group.request(6).wait(timeout=10) == {"done": 6, "errors": 0}

    change = group.rps(40)
    assert change.shares == {real_worker: 40.0}
    assert 0 <= change.max_latency_ms < 1000
    until(lambda: any(r.sent > 0 and r.target_rps > 0 for r in group.stats(5)), 6,
          "stats of a running group")
    row = next(r for r in group.stats(5) if r.sent > 0)
    assert row.workers == [real_worker] and row.errors == 0
    assert row.from_actual.p50_ms is not None

    group.pause()
    assert g.group(group.gid).paused
    group.resume()
    until(lambda: [w.clients for w in g.workers()] == [2], 5,  # refreshed by the heartbeat
          "the client count")
    group.close()
    assert g.groups() == []
    with pytest.raises(WorkerError, match="unknown group"):
        group.pause()


def test_instructions_act_only_on_the_experiments_own_groups(settings: Settings, g: Galileo,
                                                              real_worker: str,
                                                              service: str) -> None:
    """Two experiments on one worker and one service: each one's ``rps``/``close`` (pattern
    forms) touch its own group only, and every group event is filed under its owner."""
    from galileo.control import instructions as ins
    from galileo.control.executor import Executor
    from galileo.protocol import EventField, decode_event

    g.rtbl.set("api", service)
    run: dict[str, Executor] = {}
    for exp_id in ("exp-a", "exp-b"):
        scoped = Galileo(settings)
        scoped.act_for(exp_id)
        run[exp_id] = Executor(scoped, ins.Dialect.CONTROLLER)

    def execute(exp_id: str, line: str) -> None:
        step = ins.parse_line(line, ins.Dialect.CONTROLLER, 1)
        assert step is not None
        run[exp_id].execute(step)

    execute("exp-a", "spawn * api 1")
    execute("exp-b", "spawn * api 1")
    execute("exp-b", "rps * api 7")
    execute("exp-a", "rps * api 3")  # before: exp-b's group got half of it
    owner = {grp.gid: grp.info.exp_id for grp in g.groups()}
    assert sorted(owner.values()) == ["exp-a", "exp-b"]
    assert {grp.info.exp_id: grp.target_rps for grp in g.groups()} == {"exp-a": 3.0,
                                                                         "exp-b": 7.0}
    execute("exp-a", "close * api")  # before: closed exp-b's group too
    assert [grp.info.exp_id for grp in g.groups()] == ["exp-b"]
    with pytest.raises(Exception, match="no client group of 'api'"):
        execute("exp-a", "close * api")
    execute("exp-b", "close * api")
    events = [decode_event(f[EventField]) for _, f in g.redis.xrange(g.keys.events)]
    filed = [(e.kind.value, owner[e.name], e.exp_id) for e in events if e.name in owner]
    assert {k for k, _, _ in filed} == {"group_spawn", "group_rate", "group_close"}
    assert all(mine == exp for _, mine, exp in filed), filed
    for ex in run.values():
        ex.g.close()
