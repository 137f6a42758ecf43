"""Connections to backends: an asyncio Protocol fed by ``httptools`` and a keep-alive pool.

An :class:`Upstream` carries one exchange at a time (no pipelining to backends) and hands every
response event to it (:class:`UpstreamListener`); bytes written before the connection is made
are queued. The pool keeps idle connections per ``host:port`` and drops those of a backend
that left the routing table.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final, Protocol, cast

import httptools

from galileo.lb.batching import HeldWrites, WriteBatch
from galileo.lb.headers import CRLF, HOP_BY_HOP, SEP
from galileo.load.httpclient import parse_address

__all__ = ["Upstream", "UpstreamListener", "UpstreamPool"]

MAX_IDLE_PER_BACKEND: Final = 512


class UpstreamListener(Protocol):
    """What an upstream connection reports to the exchange it carries."""

    def upstream_connected(self) -> None: ...
    def upstream_connect_failed(self, error: str) -> None: ...
    def response_head(self, status: int, reason: bytes, pieces: list[bytes],
                      keep_alive: bool, *, length: int | None, chunked: bool,
                      connection: bytes | None) -> None: ...
    def response_body(self, data: bytes) -> None: ...
    def response_done(self) -> None: ...
    def upstream_failed(self, error: str, got_bytes: bool) -> None: ...
    def pause_client(self, paused: bool) -> None: ...


class Upstream(HeldWrites):
    """One connection to a backend: an asyncio protocol by its methods (not by base class, so
    that mypyc can compile it: :mod:`galileo.lb.native`)."""

    __slots__ = ("_chunked", "_connection", "_length", "_out", "_pending", "_pieces",
                 "_reason", "address", "got_bytes", "head_request",
                 "keep_alive", "listener", "parser", "pool", "reused", "transport")

    def __init__(self, pool: UpstreamPool, address: str) -> None:
        self.pool = pool
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.listener: UpstreamListener | None = None
        self.reused = False
        self.got_bytes = False
        self.keep_alive = False
        self.head_request = False
        self._pending: list[bytes] = []
        self._out: list[bytes] = []
        self._reason = b""
        self._pieces: list[bytes] = []  # the response's forwardable headers (lb.headers)
        self._length: int | None = None  # of the response being parsed: Content-Length,
        self._chunked = False  # Transfer-Encoding chunked,
        self._connection: bytes | None = None  # the Connection header's value(s)

    # ------------------------------------------------------------------ asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self._pending:
            self.transport.write(b"".join(self._pending))
            self._pending = []
        if self.listener is not None:
            self.listener.upstream_connected()

    def data_received(self, data: bytes) -> None:
        listener = self.listener
        if listener is None:  # a response nobody asked for: the connection is unusable
            self.abort()
            return
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.listener = None
            self.abort()
            listener.upstream_failed("protocol", True)

    def eof_received(self) -> bool | None:
        return None  # the backend closed its side: close ours (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pool.forget(self)
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.upstream_failed("closed", self.got_bytes)

    def pause_writing(self) -> None:
        if self.listener is not None:
            self.listener.pause_client(True)

    def resume_writing(self) -> None:
        if self.listener is not None:
            self.listener.pause_client(False)

    # ------------------------------------------------------------------ httptools
    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname in HOP_BY_HOP:  # noted here (framing, Connection), not forwarded
            if lname == b"content-length":
                try:
                    self._length = int(value)
                except ValueError:
                    self._length = None
            elif lname == b"connection":
                self._connection = value if self._connection is None else \
                    self._connection + b"," + value
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                self._chunked = True
            return
        self._pieces += (name, SEP, value, CRLF)

    def on_headers_complete(self) -> None:
        pieces, self._pieces = self._pieces, []
        reason, self._reason = self._reason, b""
        length, chunked, connection = self._length, self._chunked, self._connection
        self._length, self._chunked, self._connection = None, False, None
        self.keep_alive = self.parser.should_keep_alive()
        listener = self.listener
        if listener is None:
            return
        status = self.parser.get_status_code()
        listener.response_head(status, reason, pieces, self.keep_alive, length=length,
                               chunked=chunked, connection=connection)
        if self.head_request and status >= 200:
            # httptools cannot be told that a HEAD response has no body: end it here and do not
            # reuse the connection (its parser would wait for Content-Length bytes)
            self.keep_alive = False
            self.listener = None
            listener.response_done()

    def on_body(self, body: bytes) -> None:
        if self.listener is not None:
            self.listener.response_body(body)

    def on_message_complete(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.response_done()

    # ------------------------------------------------------------------ use
    def start(self, listener: UpstreamListener, head_request: bool = False) -> None:
        self.listener = listener
        self.got_bytes = False
        self.head_request = head_request

    def write(self, data: bytes) -> None:
        if self.transport is None:
            self._pending.append(data)
        else:
            if not self._out:
                self.pool.writes.add(self)
            self._out.append(data)

    def take_pending(self) -> list[bytes]:
        """What was written before the connection was made (and is not sent now)."""
        pending, self._pending = self._pending, []
        return pending

    def pause_reading(self, paused: bool) -> None:
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):
                (self.transport.pause_reading if paused else self.transport.resume_reading)()

    def abort(self) -> None:
        self._out = []
        self.listener = None
        self.pool.forget(self)
        if self.transport is not None:
            self.transport.abort()


class UpstreamPool:
    """Keep-alive connections per backend address for one event loop."""

    def __init__(self, connect_timeout_s: float, writes: WriteBatch | None = None) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.writes = writes or WriteBatch()
        self._idle: dict[str, list[Upstream]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def acquire(self, address: str, listener: UpstreamListener,
                connect_timeout_s: float | None = None, *, head_request: bool = False) -> Upstream:
        """An idle connection to ``address`` or a new one (the listener hears when it is up)."""
        idle = self._idle.get(address)
        while idle:
            conn = idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                conn.reused = True
                conn.listener = listener  # (start(), inlined: the hot path)
                conn.got_bytes = False
                conn.head_request = head_request
                return conn
        conn = Upstream(self, address)
        conn.start(listener, head_request)
        timeout = self.connect_timeout_s if connect_timeout_s is None else connect_timeout_s
        task = asyncio.get_running_loop().create_task(self._connect(conn, timeout))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return conn

    async def _connect(self, conn: Upstream, timeout_s: float) -> None:
        error = ""
        try:
            addr = parse_address(conn.address)
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(timeout_s):  # not wait_for: it can lose a cancellation
                await loop.create_connection(lambda: cast(asyncio.Protocol, conn), addr.host,
                                             addr.port)
        except TimeoutError:
            error = "timeout"
        except asyncio.CancelledError:
            error = "cancelled"
        except Exception:  # refused, unreachable, unresolvable, bad address
            error = "connect"
        if error:
            listener, conn.listener = conn.listener, None
            if listener is not None:
                listener.upstream_connect_failed(error)

    def release(self, conn: Upstream) -> None:
        """Keep ``conn`` for the next request to its backend (or close it)."""
        conn.listener = None
        idle = self._idle.setdefault(conn.address, [])
        if (conn.transport is None or conn.transport.is_closing() or not conn.keep_alive
                or len(idle) >= MAX_IDLE_PER_BACKEND):
            conn.abort()
            return
        idle.append(conn)

    def forget(self, conn: Upstream) -> None:
        idle = self._idle.get(conn.address)
        if idle and conn in idle:
            idle.remove(conn)

    def drop_except(self, addresses: set[str]) -> None:
        """Close idle connections to backends no longer in ``addresses``."""
        for address in [a for a in self._idle if a not in addresses]:
            for conn in self._idle.pop(address):
                conn.abort()

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conns in list(self._idle.values()):
            for conn in list(conns):
                conn.abort()
        self._idle.clear()
