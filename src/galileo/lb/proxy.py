"""The client side of the proxy: an asyncio Protocol fed by ``httptools``, one per connection.

Requests are answered strictly in order: the first is proxied while it streams in; pipelined
ones wait (their bodies buffered; reading pauses after ``MAX_QUEUED`` of them). Bad input gets
the balancer's own answer and the connection closes: 400 for a malformed request, 431 when the
request line and headers exceed ``max_header_bytes``, 501 for protocol upgrades.
``Expect: 100-continue`` is answered by the balancer (the backend never sees it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from typing import Final, cast

import httptools

from galileo.lb.balancer import Balancer
from galileo.lb.batching import HeldWrites
from galileo.lb.exchange import Exchange
from galileo.lb.headers import CRLF, HOP_BY_HOP, REQUEST_ID, SEP, XFF, error_response

__all__ = ["ClientConnection", "ProxyServer"]

log = logging.getLogger(__name__)

MAX_QUEUED: Final = 32
BACKLOG: Final = 4096
HEAD_SLACK_BYTES: Final = 64 * 1024  # a head line still unfinished this far past the limit
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
# request headers the exchange needs to know about (framing, routing, request id, Expect)
_NOTED: Final = HOP_BY_HOP | {b"host", REQUEST_ID, XFF, b"expect"}


class _HeadTooLarge(Exception):
    pass


class ClientConnection(HeldWrites):
    """One client connection to the balancer: an asyncio protocol by its methods (not by base
    class, so that mypyc can compile it: :mod:`galileo.lb.native`)."""

    def __init__(self, balancer: Balancer, connections: set[ClientConnection]) -> None:
        self.balancer = balancer
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.peer_bytes = b""  # ``peer`` encoded (for X-Forwarded-For)
        self.http11 = True
        self.closing = False
        self._limit = balancer.config.max_header_bytes
        self._in_head = True
        self._head_bytes = 0
        self._raw_head = 0
        self._url = b""
        self._pieces: list[bytes] = []  # the request's forwardable headers (lb.headers)
        self._xff: bytes | None = None
        self._expect = False
        self._host: bytes | None = None
        self._request_id: bytes | None = None
        self._connection: bytes | None = None  # the Connection header's value(s)
        self._body_len: int | None = None  # Content-Length, -1 chunked, None: no body
        self._current: Exchange | None = None  # the request being parsed
        self._active: Exchange | None = None  # the request being answered
        self._queue: deque[Exchange] = deque()
        self._paused: set[str] = set()
        self._eof = False
        self._out: list[bytes] = []  # writes held until the loop pass ends (lb.batching)
        self._batch = balancer.writes

    # ------------------------------------------------------------------ asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else "unix"
        self.peer_bytes = self.peer.encode("latin-1")
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self._in_head:
            self._raw_head += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(501, "protocol upgrades (WebSocket, h2c) are not supported")
            return
        except httptools.HttpParserError as e:
            if isinstance(e.__context__, _HeadTooLarge) or isinstance(e, _HeadTooLarge):
                self._reject(431, f"request line and headers are larger than {self._limit} "
                             "bytes")
            else:
                self._reject(400, "malformed HTTP request")
            return
        if self._in_head and self._raw_head > self._limit + HEAD_SLACK_BYTES:
            self._reject(431, f"request line and headers are larger than {self._limit} bytes")

    def eof_received(self) -> bool | None:
        self._eof = True
        if self._current is not None:  # gone mid-body: that request can never complete
            log.info("client %s: closed in the middle of a request body", self.peer)
            return None  # close; connection_lost cancels what is in flight
        if self._active is None and not self._queue:
            return None  # nothing owed: close
        return True  # answer what was asked, then close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.transport = None
        self._connections.discard(self)
        pending = [e for e in (self._active, *self._queue) if e is not None]
        self._active = None
        self._queue.clear()
        for exchange in pending:
            exchange.cancel()

    def pause_writing(self) -> None:  # the client does not read: stop reading the backend
        if self._active is not None and self._active.upstream is not None:
            self._active.upstream.pause_reading(True)

    def resume_writing(self) -> None:
        if self._active is not None and self._active.upstream is not None:
            self._active.upstream.pause_reading(False)

    # ------------------------------------------------------------------ httptools
    # (no on_message_begin: a callback less per request; the head's state is reset once it
    # has been handed to its exchange, in on_headers_complete)
    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > self._limit:
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self._limit:
            raise _HeadTooLarge
        lname = name.lower()
        if lname in _NOTED:  # noted here, so no one scans the headers for them again
            if lname == b"host":
                self._host = value
            elif lname == REQUEST_ID:
                self._request_id = value
            else:
                if lname == b"expect":
                    self._expect = value.lower() == b"100-continue"
                elif lname == XFF:
                    self._xff = value if self._xff is None else self._xff + b", " + value
                elif lname == b"connection":
                    self._connection = value if self._connection is None else \
                        self._connection + b"," + value
                elif lname == b"transfer-encoding":
                    if b"chunked" in value.lower():
                        self._body_len = -1
                elif lname == b"content-length" and self._body_len != -1:
                    self._body_len = int(value)  # (httptools rejects conflicting ones)
                return  # hop-by-hop, re-stated or answered by the balancer: not forwarded
        self._pieces += (name, SEP, value, CRLF)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._raw_head = 0
        parser = self._parser
        self.http11 = parser.get_http_version() == "1.1"
        exchange = Exchange(self, self.balancer, parser.get_method(), self._url, self._pieces,
                            keep_alive=parser.should_keep_alive(), body_len=self._body_len,
                            host=self._host, request_id=self._request_id,
                            connection=self._connection, xff=self._xff)
        expect = self._expect
        self._head_bytes = 0  # ready for the next request's head
        self._url = b""
        self._pieces = []
        self._expect = False
        self._host = self._request_id = self._connection = self._xff = None
        self._body_len = None
        self._current = exchange
        if self._active is None:
            self._active = exchange
            if expect and not exchange.body_done:
                self.write(_CONTINUE)
            exchange.start()
        else:
            self._queue.append(exchange)
            if len(self._queue) >= MAX_QUEUED:
                self.pause_reading(True, "queue")

    def on_body(self, body: bytes) -> None:
        if self._current is not None:
            self._current.feed_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True  # what follows is the next request's head
        current, self._current = self._current, None
        if current is not None and current.body_len is not None:  # (nothing to do without)
            current.body_complete()

    # ------------------------------------------------------------------ exchanges
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closing:
            if not self._out:
                self._batch.add(self)
            self._out.append(data)

    def pause_reading(self, paused: bool, why: str = "upstream") -> None:
        if paused:
            self._paused.add(why)
        else:
            self._paused.discard(why)
        if self.transport is None or self.closing:
            return
        with contextlib.suppress(RuntimeError):
            if self._paused:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def exchange_done(self, exchange: Exchange, reusable: bool) -> None:
        """``exchange`` has answered; ``reusable`` False closes the connection after it."""
        if exchange is not self._active:
            return
        self._active = None
        if self._paused:  # (nothing to resume in the usual case)
            self.pause_reading(False, "upstream")
        if not reusable or (self._eof and not self._queue):
            self.close()
            return
        if self._queue:
            self._active = self._queue.popleft()
            self.pause_reading(False, "queue")
            self._active.start()

    def _reject(self, status: int, message: str) -> None:
        """Answer a protocol error (once the request in progress is done, if any) and close."""
        log.info("client %s: %d %s", self.peer, status, message)
        if self._active is not None and self._active.head_sent:
            self.abort()  # a response is on its way: nothing clean can follow it
            return
        if self._active is not None:
            self._active.cancel()
            self._active = None
        self._queue.clear()
        self.write(error_response(status, message + ".", False))
        self.close()

    def close(self) -> None:
        self.flush()  # what is held goes out first; close() then flushes the transport
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._out = []
        self.closing = True
        if self.transport is not None:
            self.transport.abort()


class ProxyServer:
    """Serves one :class:`Balancer` on the running loop."""

    def __init__(self, balancer: Balancer) -> None:
        self.balancer = balancer
        self.connections: set[ClientConnection] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: cast(asyncio.Protocol, ClientConnection(self.balancer, self.connections)),
            sock=sock, backlog=BACKLOG)

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "server not started"
        sockets: list[socket.socket] = list(getattr(self._server, "sockets", None) or [])
        sock = sockets[0]
        host, port = sock.getsockname()[:2]
        return str(host), int(port)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.connections):
            conn.abort()
        await self._server.wait_closed()
        self._server = None
        self.balancer.close()
