"""Small HTTP helpers for the balancer tests (stdlib http.client, raw sockets)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def connection(port: int, timeout: float = 5.0) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        yield conn
    finally:
        conn.close()


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None,
        method: str = "GET", body: Any = None) -> tuple[int, dict[str, str], bytes]:
    chunked = (headers or {}).get("Transfer-Encoding") == "chunked"
    conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    r = conn.getresponse()
    data = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def backend_of(port: int, path: str = "/svc/", headers: dict[str, str] | None = None) -> str:
    """Which backend answered one request on a fresh connection ("" for a non-200)."""
    with connection(port) as conn:
        status, _, data = get(conn, path, headers)
    return str(json.loads(data)["backend"]) if status == 200 else ""


def raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh socket and read until the balancer closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
