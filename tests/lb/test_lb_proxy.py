"""HTTP/1.1 semantics through the balancer: keep-alive both sides, chunked bodies both ways,
hop-by-hop headers, X-Forwarded-For, X-Request-Id, choice of service by Host or path."""

from __future__ import annotations

import json

from tests.lb.http import backend_of, connection, get
from tests.waiting import until


def _ready(lb, service="svc"):
    until(lambda: service in lb.balancer.services, 5, f"the balancer to see {service}")


def test_keep_alive_headers_and_bodies(start_lb, backends, routing):
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    _ready(lb)
    with connection(lb.port) as conn:
        status, headers, data = get(conn, "/svc/hello?x=1", {
            "Connection": "keep-alive, X-Secret", "X-Secret": "s", "Keep-Alive": "timeout=5",
            "X-Forwarded-For": "10.0.0.1", "Proxy-Authorization": "Basic eA==",
            "X-Request-Id": "rid-1", "X-Custom": "kept"})
        assert status == 200
        seen = json.loads(data)
        sent = {k.lower(): v for k, v in seen["headers"]}
        assert seen["path"] == "/hello?x=1"
        assert "x-secret" not in sent and "keep-alive" not in sent
        assert "proxy-authorization" not in sent
        assert sent["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
        assert sent["x-request-id"] == "rid-1" and sent["x-custom"] == "kept"
        assert "keep-alive" not in headers  # the backend's hop-by-hop header is not passed on
        assert headers["x-backend"] == "a"

        # chunked request body (streamed, re-chunked to the backend)
        payload = [b"x" * 1000, b"y" * 70_000, b"z"]
        status, _, data = get(conn, "/svc/up", method="POST", body=iter(payload),
                              headers={"Transfer-Encoding": "chunked"})
        assert status == 200
        assert json.loads(data)["body"] == b"".join(payload).decode()
        sent = {k.lower(): v for k, v in json.loads(data)["headers"]}
        assert sent["transfer-encoding"] == "chunked" and "x-request-id" in sent

        # chunked response (re-chunked to the client)
        a.mode = "chunked"
        status, headers, data = get(conn, "/svc/chunks")
        assert status == 200 and headers["transfer-encoding"] == "chunked"
        assert json.loads(data)["path"] == "/chunks"
    assert a.requests == 3
    assert a.connections == 1  # one keep-alive connection to the backend for all three


def test_large_body_both_ways(start_lb, backends, routing):
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    _ready(lb)
    body = bytes(range(97, 123)) * 40_000  # ~1 MB
    with connection(lb.port) as conn:
        status, _, data = get(conn, "/svc/big", method="POST", body=body)
    assert status == 200
    assert json.loads(data)["body"] == body.decode()  # the backend's answer is ~1 MB too


def test_service_by_host_or_path(start_lb, backends, routing):
    a, b = backends("a"), backends("b")
    routing.set("alpha", [a.address])
    routing.set("beta", [b.address])
    lb = start_lb()
    _ready(lb, "alpha")
    _ready(lb, "beta")
    assert backend_of(lb.port, "/alpha/x") == "a"
    assert backend_of(lb.port, "/beta") == "b"
    assert backend_of(lb.port, "/x", {"Host": "beta:8000"}) == "b"
    assert b.seen[-1]["path"] == "/x"  # Host-based choice keeps the path
    with connection(lb.port) as conn:
        status, _, data = get(conn, "/gamma/x")
    assert status == 404 and b"no service matches" in data


def test_fixed_service(start_lb, backends, routing):
    a = backends("a")
    routing.set("only", [a.address])
    lb = start_lb(service="only")
    _ready(lb, "only")
    assert backend_of(lb.port, "/anything/at/all") == "a"
    assert a.seen[-1]["path"] == "/anything/at/all"


def test_head_then_get_on_one_connection(start_lb, backends, routing):
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    _ready(lb)
    with connection(lb.port) as conn:
        status, headers, data = get(conn, "/svc/h", method="HEAD")
        assert status == 200 and data == b"" and int(headers["content-length"]) > 0
        status, _, data = get(conn, "/svc/g")
        assert status == 200 and json.loads(data)["path"] == "/g"
    assert [s["method"] for s in a.seen] == ["HEAD", "GET"]


class _CountingTransport:
    """Wraps the balancer's transport to one client and records each write (a spy: every
    call goes on to the real transport)."""

    def __init__(self, inner):
        self.inner, self.writes = inner, []

    def write(self, data):
        self.writes.append(bytes(data))
        self.inner.write(data)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_one_send_per_response(start_lb, backends, routing):
    """What one read from the backend yields (head and body) goes to the client in one write:
    one ``send`` per response instead of two (fewer syscalls, no half response in flight)."""
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    _ready(lb)
    with connection(lb.port) as conn:
        assert get(conn, "/svc/first")[0] == 200
        (client,) = lb.server.connections
        spy = _CountingTransport(client.transport)
        lb.loop.call(setattr, client, "transport", spy)
        status, _, data = get(conn, "/svc/second")
        assert status == 200 and json.loads(data)["path"] == "/second"
        assert len(spy.writes) == 1, spy.writes
