"""Test backends for the balancer: a tiny HTTP/1.1 server on its own event loop thread.

Every answer names the backend and describes the request it got (JSON), so a test sees what the
balancer forwarded. ``mode`` switches behaviour live: ``ok``, ``chunked`` (a chunked answer in
three pieces), ``garbage`` (bytes that are not HTTP), ``error`` (500), ``slow`` (``delay_s``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

import httptools

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread; ``run(coro)`` waits for its result."""

    def __init__(self) -> None:
        import uvloop

        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(_cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class _Conn(asyncio.Protocol):
    def __init__(self, backend: TestBackend) -> None:
        self.b = backend
        self.parser = httptools.HttpRequestParser(self)
        self.t: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = cast(asyncio.Transport, transport)
        self.b.connections += 1
        self.b.open.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.b.open.discard(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.t is not None
            self.t.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", [], b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode(), value.decode()))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        b = self.b
        b.requests += 1
        info = {"backend": b.name, "method": self.parser.get_method().decode(),
                "path": self.url.decode(), "headers": self.headers, "body": self.body.decode()}
        b.seen.append(info)
        if b.mode == "slow":
            asyncio.get_running_loop().call_later(b.delay_s, self._answer, info)
        else:
            self._answer(info)

    def _answer(self, info: dict[str, Any]) -> None:
        t, b = self.t, self.b
        if t is None or t.is_closing():
            return
        if b.mode == "truncated":  # a head promising more body than ever comes
            t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")
            t.close()
            return
        if b.mode == "garbage":
            t.write(b"THIS IS NOT HTTP AT ALL\r\n\r\n")
            t.close()
            return
        body = json.dumps(info).encode()
        status = b"500 Internal Server Error" if b.mode == "error" else b"200 OK"
        if b.mode == "chunked":
            t.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Backend: "
                    + b.name.encode() + b"\r\n\r\n")
            third = len(body) // 3
            for part in (body[:third], body[third:2 * third], body[2 * third:]):
                t.write(b"%x\r\n%b\r\n" % (len(part), part))
            t.write(b"0\r\n\r\n")
            return
        head = (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Backend: "
                + b.name.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        t.write(head if info["method"] == "HEAD" else head + body)


class TestBackend:
    """A backend on 127.0.0.1:<free port>, served by ``loop``."""

    __test__ = False

    def __init__(self, loop: LoopThread, name: str, mode: str = "ok",
                 delay_s: float = 0.0) -> None:
        self.loop = loop
        self.name = name
        self.mode = mode
        self.delay_s = delay_s
        self.requests = 0
        self.connections = 0
        self.seen: list[dict[str, Any]] = []
        self.open: set[_Conn] = set()
        self._server: asyncio.AbstractServer | None = None
        self.port = 0
        self.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        async def _start() -> None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            self.port = sock.getsockname()[1]
            self._server = await asyncio.get_running_loop().create_server(
                lambda: _Conn(self), sock=sock)

        self.loop.run(_start())

    def kill(self) -> None:
        """Stop listening and drop every connection (a crashed backend)."""
        async def _kill() -> None:
            if self._server is not None:
                self._server.close()
                for conn in list(self.open):
                    if conn.t is not None:
                        conn.t.abort()
                await self._server.wait_closed()
                self._server = None

        self.loop.run(_kill())
