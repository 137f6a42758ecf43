"""Bad input on real sockets: each gets a clear answer, and the balancer keeps serving others."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from tests.lb.http import backend_of, connection, get, raw
from tests.waiting import until


def _serving(lb, backend):
    until(lambda: "svc" in lb.balancer.services, 5, "the route")
    assert backend_of(lb.port) == backend.name


def test_malformed_request_line(start_lb, backends, routing):
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    _serving(lb, a)
    answer = raw(lb.port, b"GET /svc/ HTTP/1.1 EXTRA\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"malformed HTTP request" in answer and b"Connection: close" in answer
    assert raw(lb.port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert backend_of(lb.port) == "a"


def test_oversized_headers_get_431(start_lb, backends, routing):
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb(max_header_bytes=4096)
    _serving(lb, a)
    big = b"GET /svc/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 5000 + b"\r\n\r\n"
    answer = raw(lb.port, big)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"larger than 4096 bytes" in answer
    many = b"GET /svc/ HTTP/1.1\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 50)
                                                 for i in range(200)) + b"\r\n"
    assert raw(lb.port, many).startswith(b"HTTP/1.1 431 ")
    # a header line that never ends is cut off too (not buffered without bound)
    with socket.create_connection(("127.0.0.1", lb.port), timeout=5) as sock:
        sock.sendall(b"GET /svc/ HTTP/1.1\r\nX-Endless: ")
        try:
            for _ in range(100):
                sock.sendall(b"v" * 4096)
        except OSError:
            pass  # the balancer closed while we were still sending: fine
        assert sock.recv(4096).startswith(b"HTTP/1.1 431 ")
    assert a.requests == 1  # none of them reached the backend
    assert backend_of(lb.port) == "a"


def test_garbage_backend_gives_502(start_lb, backends, routing):
    bad, good = backends("bad", mode="garbage"), backends("good")
    routing.set("svc", [bad.address])
    routing.set("other", [good.address])
    lb = start_lb(health=_no_ejection())
    until(lambda: {"svc", "other"} <= set(lb.balancer.services), 5, "routes")
    with connection(lb.port) as conn:
        status, _, data = get(conn, "/svc/")
    assert status == 502
    assert data.startswith(b"galileo lb: backend ") and b"malformed response" in data
    assert backend_of(lb.port, "/other/") == "good"


def test_client_disconnects_mid_body(start_lb, backends, routing):
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    _serving(lb, a)
    with socket.create_connection(("127.0.0.1", lb.port), timeout=5) as sock:
        sock.sendall(b"POST /svc/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                     + b"x" * 5000)
        until(lambda: lb.balancer.services["svc"].backends[0].outstanding == 1, 5,
              "the request to reach the backend")
    backend = lb.balancer.services["svc"].backends[0]
    until(lambda: backend.outstanding == 0, 5, "the abandoned request to be released")
    until(lambda: not a.open, 5, "the half-sent upstream connection to be closed")
    assert backend.failures == 0  # the client's fault, not the backend's
    assert backend_of(lb.port) == "a"


def test_unknown_policy(start_lb, backends, routing, settings, redis_client):
    from galileo.errors import ConfigError
    from galileo.lb.commands import switch_policy
    from galileo.protocol import Keys, LbCommand, encode

    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    _serving(lb, a)
    try:
        switch_policy(redis_client, settings.namespace, "lb", "fastest-please")
    except ConfigError as e:
        assert "unknown balancing policy 'fastest-please'" in str(e)
    else:
        raise AssertionError("an unknown policy was accepted")
    # a command naming a module the balancer was not started to allow is refused by it
    keys = Keys(settings.namespace)
    redis_client.publish(keys.lb_commands, encode(LbCommand(lb="lb", policy="os:system")))
    redis_client.publish(keys.lb_commands, b"\xc1 not msgpack")
    switch_policy(redis_client, settings.namespace, "lb", "p2c")
    until(lambda: lb.balancer.policy_name == "p2c", 5, "the valid switch after the bad ones")
    assert backend_of(lb.port) == "a"


def test_cli_bad_policy_and_haproxy_socket(tmp_path, settings):
    env = {"PATH": "/usr/bin:/bin", "galileo_redis_url": str(settings.redis_url),
           "galileo_namespace": settings.namespace}
    for args, needle in (
        (["lb", "serve", "--policy", "fastest-please", "--port", "0"],
         "unknown balancing policy 'fastest-please'"),
        (["lb", "haproxy", "--socket", str(tmp_path / "absent.sock"), "--backend", "be",
          "--service", "svc"], "does not exist"),
        (["lb", "haproxy", "--socket", str(_refusing_socket(tmp_path)), "--backend", "be",
          "--service", "svc"], "refuses connections"),
    ):
        proc = subprocess.run([sys.executable, "-m", "galileo", *args], capture_output=True,
                              text=True, env=env, timeout=30)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr


def _refusing_socket(tmp_path):
    path = tmp_path / "refusing.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))  # bound, never listening: connect() is refused
    sock.close()
    return path


def _no_ejection():
    from galileo.lb.backends import HealthConfig

    return HealthConfig(max_failures=1000)


def test_backend_closing_mid_response_closes_the_client_once(start_lb, backends, routing,
                                                             settings, redis_client):
    import http.client

    from galileo.protocol import Keys, TraceField, decode_lb_trace_batch

    bad = backends("bad", mode="truncated")
    routing.set("svc", [bad.address])
    lb = start_lb(health=_no_ejection())
    until(lambda: "svc" in lb.balancer.services, 5, "the route")
    with connection(lb.port) as conn:
        conn.request("GET", "/svc/")
        response = conn.getresponse()
        assert response.status == 200  # the head went out before the backend failed
        try:
            response.read()
        except http.client.IncompleteRead as e:
            assert e.partial == b"only this"
        else:
            raise AssertionError("a truncated body was passed off as complete")
    keys = Keys(settings.namespace)

    def traces():
        return [t for _, f in redis_client.xrange(keys.lb_traces)
                for t in decode_lb_trace_batch(f[TraceField]).traces]

    until(lambda: len(traces()) >= 1, 5, "the trace")
    time.sleep(0.3)
    assert [(t.status, t.error) for t in traces()] == [(200, "closed")]
    good = backends("good")
    routing.set("other", [good.address])
    until(lambda: backend_of(lb.port, "/other/") == "good", 5, "another service served")
