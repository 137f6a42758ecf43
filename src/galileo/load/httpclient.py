"""A small, fast HTTP/1.1 client: keep-alive connection pools on asyncio protocols + httptools.

The hot path is callback based (:meth:`HttpClient.send`): no task or future per request. The
callback gets ``(status, bytes_received, error)`` where ``error`` is a ``TraceStatus`` value
(``""`` on success; then ``status`` is the HTTP code). Errors: ``connect`` (refused/unreachable),
``timeout`` (no complete response within the timeout, checked every ``SWEEP_INTERVAL_S``),
``protocol`` (unparsable response), ``closed`` (connection closed before the response ended),
``cancelled`` (client closed with the request in flight). :meth:`HttpClient.request` is an
awaitable wrapper for tests and tools.

Known limits: no pipelining, no retries, responses delimited by connection close only are
reported as ``closed``; HEAD responses are not supported.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final, NamedTuple, cast

import httptools
import msgspec

from galileo.errors import ValidationError
from galileo.net import new_event_loop as new_event_loop  # re-exported: one definition, in net
from galileo.protocol import RequestSpec, TraceStatus

DEFAULT_TIMEOUT_S: Final = 10.0
SWEEP_INTERVAL_S: Final = 0.02

Callback = Callable[[int, int, str], None]

_ERR_CONNECT: Final = TraceStatus.CONNECT.value
_ERR_TIMEOUT: Final = TraceStatus.TIMEOUT.value
_ERR_PROTOCOL: Final = TraceStatus.PROTOCOL.value
_ERR_CLOSED: Final = TraceStatus.CLOSED.value
_ERR_CANCELLED: Final = TraceStatus.CANCELLED.value


class Address(NamedTuple):
    host: str
    port: int
    tls: bool
    host_header: str


@lru_cache(maxsize=4096)
def parse_address(target: str) -> Address:
    """``host:port``, ``http://host[:port]`` or ``https://host[:port]`` → :class:`Address`."""
    tls = target.startswith("https://")
    rest = target.split("://", 1)[1] if "://" in target else target
    rest = rest.split("/", 1)[0]
    host, sep, port_s = rest.rpartition(":")
    if not sep or "]" in port_s:
        host, port_s = rest, "443" if tls else "80"
    try:
        port = int(port_s)
    except ValueError:
        raise ValidationError(f"bad host {target!r}: expected host:port") from None
    if not host or not 0 < port < 65536:
        raise ValidationError(f"bad host {target!r}: expected host:port")
    return Address(host.strip("[]"), port, tls, rest)


def build_request(spec: RequestSpec, host_header: str) -> bytes:
    """The bytes of one HTTP/1.1 request for ``spec``."""
    body = spec.body
    headers = dict(spec.headers)
    if spec.json is not None:
        body = msgspec.json.encode(spec.json)
        headers.setdefault("Content-Type", "application/json")
    lines = [f"{spec.method} {spec.path or '/'} HTTP/1.1", f"Host: {host_header}"]
    lines.extend(f"{k}: {v}" for k, v in headers.items() if k.lower() != "host")
    if body is not None or spec.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class _Connection(asyncio.Protocol):
    __slots__ = ("cb", "client", "deadline", "key", "nbytes", "parser", "pending", "transport")

    def __init__(self, client: HttpClient, key: str) -> None:
        self.client = client
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.cb: Callback | None = None
        self.nbytes = 0
        self.deadline = 0
        self.pending: bytes | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.pending is not None:
            data, self.pending = self.pending, None
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self.cb is None:
            self.abort()
            return
        self.nbytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail(_ERR_PROTOCOL)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.client._forget(self)
        if self.cb is not None:
            self.fail(_ERR_CLOSED)

    # -- httptools
    def on_message_complete(self) -> None:
        cb = self.cb
        if cb is None:
            return
        self.cb = None
        status = self.parser.get_status_code()
        keep = self.parser.should_keep_alive()
        self.client._release(self, keep)
        cb(status, self.nbytes, "")

    # -- client side
    def send(self, data: bytes, cb: Callback, deadline: int) -> None:
        self.cb = cb
        self.nbytes = 0
        self.deadline = deadline
        if self.transport is None:
            self.pending = data
        else:
            self.transport.write(data)

    def fail(self, error: str) -> None:
        cb = self.cb
        self.cb = None
        self.client._busy.discard(self)
        self.abort()
        if cb is not None:
            cb(0, self.nbytes, error)

    def abort(self) -> None:
        self.client._forget(self)
        if self.transport is not None:
            self.transport.abort()


class HttpClient:
    """Keep-alive pools keyed by target (``host:port`` / URL); one client per load group."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if timeout_s <= 0:
            raise ValidationError(f"HTTP timeout {timeout_s!r} must be > 0 seconds")
        self.timeout_ns = int(timeout_s * 1e9)
        self._idle: dict[str, list[_Connection]] = {}
        self._all: set[_Connection] = set()
        self._busy: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl: _ssl.SSLContext | None = None
        self.closed = False

    def send(self, target: str, data: bytes, cb: Callback) -> None:
        """Send request bytes to ``target``; ``cb(status, nbytes, error)`` is called once."""
        if self.closed:
            cb(0, 0, _ERR_CANCELLED)
            return
        idle = self._idle.get(target)
        conn = idle.pop() if idle else self._open(target)
        self._busy.add(conn)
        conn.send(data, cb, time.monotonic_ns() + self.timeout_ns)
        if self._sweeper is None:
            self._sweeper = self._get_loop().call_later(SWEEP_INTERVAL_S, self._sweep)

    async def request(self, target: str, spec: RequestSpec | None = None) -> tuple[int, int, str]:
        """Send one request and await ``(status, bytes_received, error)``."""
        fut: asyncio.Future[tuple[int, int, str]] = self._get_loop().create_future()

        def done(status: int, nbytes: int, error: str) -> None:
            if not fut.done():
                fut.set_result((status, nbytes, error))

        addr = parse_address(target)
        self.send(target, build_request(spec or RequestSpec(), addr.host_header), done)
        return await fut

    def close(self) -> None:
        """Cancel every in-flight request (callbacks get ``cancelled``) and close connections."""
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._all):
            conn.fail(_ERR_CANCELLED)
        self._idle.clear()

    @property
    def connections(self) -> int:
        return len(self._all)

    # ------------------------------------------------------------------ internals
    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _open(self, target: str) -> _Connection:
        conn = _Connection(self, target)
        self._all.add(conn)
        task = self._get_loop().create_task(self._connect(conn, parse_address(target)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return conn

    async def _connect(self, conn: _Connection, addr: Address) -> None:
        ssl_ctx: Any = None
        if addr.tls:
            if self._ssl is None:
                self._ssl = _ssl.create_default_context()
            ssl_ctx = self._ssl
        try:
            await self._get_loop().create_connection(
                lambda: conn, addr.host, addr.port, ssl=ssl_ctx
            )
        except asyncio.CancelledError:
            conn.fail(_ERR_CANCELLED)
        except (OSError, _ssl.SSLError):
            conn.fail(_ERR_CONNECT)

    def _release(self, conn: _Connection, keep: bool) -> None:
        self._busy.discard(conn)
        if keep and not self.closed and conn.transport is not None:
            self._idle.setdefault(conn.key, []).append(conn)
        else:
            conn.abort()

    def _forget(self, conn: _Connection) -> None:
        self._all.discard(conn)
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def _sweep(self) -> None:
        self._sweeper = None
        now = time.monotonic_ns()
        for conn in [c for c in self._busy if c.deadline <= now]:
            conn.fail(_ERR_TIMEOUT)
        if self._busy and not self.closed:
            self._sweeper = self._get_loop().call_later(SWEEP_INTERVAL_S, self._sweep)
