"""Fixtures for the example services: one real server (echo + classify) per session, and a
tiny raw HTTP/1.1 client for keep-alive, pipelining and malformed-input tests."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from galileo.apps import BackgroundServer, serve_background

DEADLINE_S = 10.0


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class RawConnection:
    """One TCP connection; ``send`` raw bytes, ``read_response`` parses one response."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
        self._buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self._buf += chunk
        return bool(chunk)

    def read_response(self) -> RawResponse:
        while b"\r\n\r\n" not in self._buf:
            if not self._fill():
                raise ConnectionError("connection closed before a full response head")
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._buf) < length:
            if not self._fill():
                raise ConnectionError("connection closed before the full body")
        body, self._buf = self._buf[:length], self._buf[length:]
        return RawResponse(status, headers, body)

    def is_closed_by_peer(self) -> bool:
        """True when the server closed the connection (reads EOF within the deadline)."""
        try:
            return self.sock.recv(1) == b"" and not self._buf
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="session")
def app_server() -> Iterator[BackgroundServer]:
    """echo + classify served from a background thread for the whole session."""
    with serve_background(["echo", "classify"]) as server:
        yield server


@pytest.fixture
def connect(app_server: BackgroundServer) -> Iterator[Callable[..., RawConnection]]:
    """Open raw connections to ``app_server`` (or another port); all closed after the test."""
    opened: list[RawConnection] = []

    def factory(port: int | None = None) -> RawConnection:
        conn = RawConnection(port if port is not None else app_server.port)
        opened.append(conn)
        return conn

    yield factory
    for conn in opened:
        conn.close()
