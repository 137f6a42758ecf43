"""A tiny, fast HTTP/1.1 server for tests and benchmarks of the load engine (not for services).

Routes: ``/sleep/<ms>`` answers after ``ms`` milliseconds, ``/close`` closes the connection
without answering, ``/status/<code>`` answers with that code, anything else answers ``200 ok``.
:class:`LocalServer` runs it on its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Final, cast

import httptools

from galileo.load.httpclient import new_event_loop

_RESPONSE: Final = b"HTTP/1.1 %d X\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _ServerProtocol(asyncio.Protocol):
    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections += 1
        self.server.transports.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.server.transports.discard(self.transport)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_message_complete(self) -> None:
        self.server.requests += 1
        url, transport = self.url, self.transport
        if transport is None:
            return
        if url.startswith(b"/close"):
            transport.close()
        elif url.startswith(b"/sleep/"):
            delay = int(url[7:].split(b"?")[0]) / 1000
            asyncio.get_running_loop().call_later(delay, _write, transport, 200)
        elif url.startswith(b"/status/"):
            transport.write(_RESPONSE % int(url[8:11]))
        else:
            transport.write(_RESPONSE % 200)


def _write(transport: asyncio.Transport, code: int) -> None:
    if not transport.is_closing():
        transport.write(_RESPONSE % code)


class LocalServer:
    """``with LocalServer() as srv: srv.address`` → ``127.0.0.1:<port>``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests = 0
        self.connections = 0
        self.transports: set[asyncio.Transport] = set()
        self._loop = new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> LocalServer:
        async def serve() -> asyncio.Server:
            return await self._loop.create_server(
                lambda: _ServerProtocol(self), self.host, self.port, backlog=1024
            )

        self._server = self._loop.run_until_complete(serve())
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread.start()
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for transport in list(self.transports):
                transport.close()
            await asyncio.sleep(0.01)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
