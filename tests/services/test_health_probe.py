"""The agent's health probe (a bare HTTP/1.0 request on a raw socket) against a real server:
2xx is healthy, anything else (an error status, a closed port, garbage, silence) is not."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from galileo.services.instances import HEALTH_TIMEOUT_S, probe, status_ok


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        codes = {"/health": 200, "/made": 201, "/bad": 503, "/gone": 404}
        self.send_response(codes.get(self.path, 500))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_2xx_is_healthy_and_anything_else_is_not(server: int) -> None:
    assert probe(server, "/health") and probe(server, "/made")
    assert not probe(server, "/bad") and not probe(server, "/gone")
    assert probe(server, "")  # no health path: the port accepts


def test_a_closed_port_is_unhealthy() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
    assert not probe(port, "/health") and not probe(port, "")


def test_a_silent_server_is_unhealthy_within_the_timeout() -> None:
    with socket.socket() as listener:  # accepts (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        t0 = time.monotonic()
        assert not probe(listener.getsockname()[1], "/health")
        assert time.monotonic() - t0 < HEALTH_TIMEOUT_S + 0.5


@pytest.mark.parametrize(("head", "ok"), [
    (b"HTTP/1.1 200 OK\r\n", True), (b"HTTP/1.0 204 No Content\r\n\r\n", True),
    (b"HTTP/1.1 299 x\r\n", True), (b"HTTP/1.1 302 Found\r\n", False),
    (b"HTTP/1.1 500 Internal Server Error\r\n", False), (b"", False), (b"HTTP/1.1\r\n", False),
    (b"SSH-2.0-OpenSSH_9.2\r\n", False), (b"HTTP/1.1 2000 x\r\n", False),
    (b"HTTP/1.1 2a0 x\r\n", False)])
def test_status_line(head: bytes, ok: bool) -> None:
    assert status_ok(head) is ok
