"""``galileo lb serve`` as users run it: several processes on one port, all following the
routing table; SIGTERM stops them within seconds. And lb traces on the lossless stream."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from tests.lb.http import backend_of, connection, get
from tests.waiting import until

from galileo.protocol import Keys, TraceField, decode_lb_trace_batch


def test_processes_follow_routing_and_stop_on_sigterm(backends, routing, settings):
    a, b = backends("a"), backends("b")
    routing.set("svc", [a.address])
    env = {**os.environ, "galileo_redis_url": str(settings.redis_url),
           "galileo_namespace": settings.namespace, "galileo_log_level": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "galileo", "lb", "serve", "--port", "0",
                             "--processes", "2", "--name", "multi", "--policy", "p2c"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+) \(2 processes, policy p2c", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None else "")
        port = int(match.group(1))
        assert {backend_of(port) for _ in range(20)} == {"a"}
        routing.set("svc", [b.address])
        until(lambda: backend_of(port) == "b", 10, "the change")
        # every process has it: fresh connections are spread over both by the kernel
        assert {backend_of(port) for _ in range(30)} == {"b"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
    assert proc.returncode == 0


def test_lb_traces(start_lb, backends, routing, settings, redis_client):
    a = backends("a")
    routing.set("svc", [a.address])
    keys = Keys(settings.namespace)
    redis_client.set(keys.current_experiment, "exp-trace-1")
    lb = start_lb(policy="ewma")
    until(lambda: "svc" in lb.balancer.services and lb.balancer.exp_id == "exp-trace-1", 5,
          "route and experiment")
    with connection(lb.port) as conn:
        for i in range(5):
            assert get(conn, f"/svc/p{i}", {"X-Request-Id": f"req-{i}"})[0] == 200
        assert get(conn, "/nowhere/")[0] == 404

    def traces():
        out = []
        for _, fields in redis_client.xrange(keys.lb_traces):
            out += decode_lb_trace_batch(fields[TraceField]).traces
        return out

    until(lambda: len(traces()) == 6, 5, "six lb traces")
    got = {t.request_id: t for t in traces()}
    for i in range(5):
        t = got[f"req-{i}"]
        assert (t.exp_id, t.lb, t.service, t.backend, t.policy, t.method, t.path, t.status) == (
            "exp-trace-1", "lb", "svc", a.address, "ewma", "GET", f"/svc/p{i}", 200)
        assert t.received_ns <= t.upstream_sent_ns <= t.upstream_done_ns <= t.done_ns
        assert abs(t.done_ns - time.time_ns()) < 60e9 and t.error == "" and t.attempts == 1
    missing = [t for t in got.values() if t.status == 404]
    assert len(missing) == 1 and missing[0].error == "no_route" and missing[0].backend == ""
    assert len(missing[0].request_id) >= 12  # one made up for it
    # the recorder stores them (replaying the same entries stores nothing twice)
    from galileo.recorder import Recorder
    from galileo.storage import ExpDB

    with ExpDB.from_settings(settings) as db, Recorder(settings, db) as recorder:
        recorder.drain()
        entries = redis_client.xrange(keys.lb_traces)
        assert entries == []  # acknowledged and deleted once committed
        with db.transaction() as tx:
            tx.insert_lb_traces(list(got.values()))  # a replay
        rows = db.lb_traces("exp-trace-1")
        assert db.count_lb_traces() == 6
    assert [r["request_id"] for r in rows[:5]] == [f"req-{i}" for i in range(5)]
    assert rows[0]["backend"] == a.address and rows[0]["upstream_done_ns"] > 0
    # tracing off: the balancer stops recording (control state read on the hint)
    redis_client.set(keys.tracing, "off")
    redis_client.publish(keys.control_events, "tracing")
    until(lambda: not lb.balancer.tracing, 5, "tracing off")
    with connection(lb.port) as conn:
        assert get(conn, "/svc/")[0] == 200
    time.sleep(0.3)  # longer than the writer's flush interval (0.1 s)
    assert traces() == []  # the recorder took the six; nothing new
