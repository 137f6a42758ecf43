"""One proxied request: choose a backend, stream the request to it and its response back.

Streaming both ways: body bytes go on as they arrive (re-chunked when the framing is chunked),
with back-pressure (a side that cannot keep up pauses reading of the other). A connect failure
moves on to another backend (up to ``retries``; the request is still queued then); so does a
reused keep-alive connection that the backend closed before answering a body-less idempotent
request. Errors the client sees come from the balancer itself: 502 (connect failure, backend
closed or answered garbage), 503 (no healthy backend), 504 (timeout); once the response head
has gone out, a failure can only close the client connection.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final, Protocol

from galileo.lb.backends import Backend, ServiceBackends
from galileo.lb.headers import error_response, header_value, request_head, response_head
from galileo.load.group import next_request_id
from galileo.protocol import LbTrace, TraceStatus

if TYPE_CHECKING:
    from galileo.lb.balancer import Balancer
    from galileo.lb.upstream import Upstream

__all__ = ["ClientSide", "Exchange"]

IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
LAST_CHUNK: Final = b"0\r\n\r\n"


class ClientSide(Protocol):
    """What an exchange needs of the client connection it answers (``proxy.ClientConnection``;
    declared here so the exchange does not import the proxy that creates it)."""

    peer: str
    peer_bytes: bytes
    http11: bool
    closing: bool

    def write(self, data: bytes) -> None: ...
    def pause_reading(self, paused: bool, why: str = "upstream") -> None: ...
    def exchange_done(self, exchange: Exchange, reusable: bool) -> None: ...
    def abort(self) -> None: ...


class Exchange:
    """A request from one client connection and its way through one or more backends."""

    __slots__ = ("_armed_s", "_client_keep", "_connection", "_early", "_no_body", "_rechunk",
                 "_recorded", "_xff", "attempts", "backend", "balancer", "body_done", "body_len",
                 "conn", "error", "head_sent", "host", "keep_alive", "method", "pieces",
                 "request_id", "service", "service_name", "status", "t_done", "t_received",
                 "t_sent", "t_up_done", "target", "tried", "upstream", "url")

    def __init__(self, conn: ClientSide, balancer: Balancer, method: bytes, url: bytes,
                 pieces: list[bytes], *, keep_alive: bool, body_len: int | None,
                 host: bytes | None = None, request_id: bytes | None = None,
                 connection: bytes | None = None, xff: bytes | None = None) -> None:
        """``pieces``: the forwardable headers (:mod:`galileo.lb.headers`); ``host``,
        ``request_id``, ``connection`` and ``xff`` the values of those headers (the client
        connection notes them while parsing; Connection and X-Forwarded-For are not among
        the pieces)."""
        self.conn = conn
        self.balancer = balancer
        self.method = method
        self.url = url
        self.pieces = pieces
        self.keep_alive = keep_alive
        self.body_len = body_len  # Content-Length, -1 chunked, None: no body
        self.body_done = body_len is None or body_len == 0
        self.host = host
        self.request_id = request_id
        self._connection = connection
        self._xff = xff
        self.t_received = time.monotonic_ns()
        self.t_sent = self.t_up_done = self.t_done = 0
        self.service_name = ""
        self.service: ServiceBackends | None = None
        self.target = url
        self.backend: Backend | None = None
        self.upstream: Upstream | None = None
        self.tried: list[Backend] = []
        self.attempts = 0
        self.status = 0
        self.error = ""
        self.head_sent = False
        self._early: list[bytes] = []  # encoded body bytes not yet handed to a connection
        self._armed_s = 0.0  # the response timeout armed in balancer.deadlines (0: none)
        self._no_body = False
        self._rechunk = False
        self._client_keep = keep_alive
        self._recorded = False

    # ------------------------------------------------------------------ request side
    def start(self) -> None:
        name, service, target = self.balancer.resolve(self.host, self.url)
        self.service_name, self.service, self.target = name, service, target
        if service is None:
            what = (f"service {name!r} has no routing record" if name else
                    "no service matches the Host header or the first path segment")
            self.fail(503 if name else 404, what, TraceStatus.NO_ROUTE)
            return
        self._attempt()

    def feed_body(self, chunk: bytes) -> None:
        self._send(b"%x\r\n%b\r\n" % (len(chunk), chunk) if self.body_len == -1 else chunk)

    def body_complete(self) -> None:
        self.body_done = True
        if self.body_len == -1:
            self._send(LAST_CHUNK)

    def _send(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)
        elif not self.head_sent:
            self._early.append(data)

    def _attempt(self) -> None:
        service = self.service
        if service is None:  # (start sets it before the first attempt)
            return
        now = time.monotonic_ns()
        candidates = service.candidates(now)
        if self.tried:
            candidates = [b for b in candidates if b not in self.tried]
        if not candidates:
            if self.tried:
                self.fail(502, f"cannot connect to backend {self.tried[-1].address} of service "
                          f"{self.service_name!r}", self.error or TraceStatus.CONNECT)
            else:
                self.fail(503, f"every backend of service {self.service_name!r} is out "
                          "(ejected after errors or failing health checks); retry later",
                          TraceStatus.NO_ROUTE)
            return
        balancer = self.balancer
        backend = balancer.policy.choose(candidates, self)
        self.backend = backend
        self.tried.append(backend)
        self.attempts += 1
        backend.outstanding += 1  # (Backend.started, inlined: the hot path)
        timeouts = balancer.timeouts(self.service_name)
        conn = balancer.pool.acquire(backend.address, self, timeouts.connect_s,
                                     head_request=self.method == b"HEAD")
        self.upstream = conn
        rid = None
        if self.request_id is None:
            rid = self.request_id = next_request_id().encode()
        conn.write(request_head(self.method, self.target, self.pieces,
                                client=self.conn.peer_bytes, xff=self._xff, body=self.body_len,
                                request_id=rid,
                                backend=backend.address if self.host is None else None,
                                connection=self._connection))
        if self._early:
            early, self._early = self._early, []
            for data in early:
                conn.write(data)
        self.t_sent = now  # (the write goes out at the end of this loop pass)
        if self._armed_s:
            self._cancel_timer()
        self._armed_s = timeouts.response_s
        balancer.deadlines.arm(self, timeouts.response_s, now)

    # ------------------------------------------------------------------ policy view
    @property
    def client(self) -> str:
        return self.conn.peer

    def header(self, name: bytes) -> bytes | None:
        """The value of request header ``name`` (lower case)."""
        if name == b"x-forwarded-for":
            return self._xff
        return header_value(self.pieces, name)

    # ------------------------------------------------------------------ upstream events
    def upstream_connected(self) -> None:
        pass

    def upstream_connect_failed(self, error: str) -> None:
        conn, self.upstream = self.upstream, None
        self._cancel_timer()
        if conn is not None:
            self._early = conn.take_pending()[1:]  # the body bytes queued (after the head)
        if error == "cancelled":  # the balancer is shutting down
            self._backend_done(None)
            return
        self.error = TraceStatus.TIMEOUT if error == "timeout" else TraceStatus.CONNECT
        self._backend_done(False)
        if self.attempts <= self.balancer.config.retries:
            self._attempt()
        else:
            self.fail(502, f"cannot connect to backend {self.tried[-1].address} of service "
                      f"{self.service_name!r}", self.error)

    def response_head(self, status: int, reason: bytes, pieces: list[bytes],
                      keep_alive: bool, *, length: int | None = None, chunked: bool = False,
                      connection: bytes | None = None) -> None:
        """The backend's response head: ``pieces`` its forwardable headers, ``length`` its
        Content-Length (None: none or invalid), ``chunked`` its Transfer-Encoding,
        ``connection`` its Connection header's value(s)."""
        if 100 <= status < 200:
            return  # interim response (103 Early Hints, …): wait for the final one
        if self._armed_s:
            self._cancel_timer()
        self.status = status
        self.error = ""  # an earlier attempt's connect failure is not this request's error
        head_request = self.method == b"HEAD"
        self._no_body = head_request or status in (204, 304)
        self._client_keep = self.keep_alive and not self.conn.closing
        if self._no_body:
            body = length if head_request else None
            self._rechunk = False
        elif length is not None and not chunked:
            body = length
        else:
            body = None
            self._rechunk = self.conn.http11
            if not self._rechunk:
                self._client_keep = False  # HTTP/1.0 client: the body ends with the connection
        self.head_sent = True
        self.conn.write(response_head(status, reason, pieces, body=body, chunked=self._rechunk,
                                      keep_alive=self._client_keep, connection=connection))

    def response_body(self, data: bytes) -> None:
        if not self.head_sent or self._no_body:
            return
        if self._rechunk:
            self.conn.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self.conn.write(data)

    def response_done(self) -> None:
        conn = self.upstream
        if not self.head_sent:  # an interim response ended: the final one follows
            if conn is not None:
                conn.start(self, self.method == b"HEAD")
            return
        self.t_up_done = time.monotonic_ns()
        self.upstream = None
        if self._rechunk:
            self.conn.write(LAST_CHUNK)
        if conn is not None:
            if self.body_done:
                self.balancer.pool.release(conn)
            else:  # the backend answered before the request body ended: not reusable
                conn.abort()
        self._backend_done(self.status < 500, self.t_up_done)
        self._finish(self._client_keep and self.body_done)

    def upstream_failed(self, error: str, got_bytes: bool) -> None:
        conn, self.upstream = self.upstream, None
        self._cancel_timer()
        if (conn is not None and conn.reused and not got_bytes and self.body_len is None
                and self.method in IDEMPOTENT and not self.head_sent):
            # a keep-alive connection the backend had closed: not the backend's fault, and
            # not an attempt (it uses no retry)
            self._backend_done(None)
            self.tried.pop()
            self.attempts -= 1
            self._attempt()
            return
        self._backend_done(False)
        reason = "answered with a malformed response" if error == "protocol" else \
            "closed the connection before the response ended"
        self.fail(502, f"backend {self.backend.address if self.backend else '?'} {reason}",
                  TraceStatus.PROTOCOL if error == "protocol" else TraceStatus.CLOSED)

    def pause_client(self, paused: bool) -> None:
        self.conn.pause_reading(paused)

    # ------------------------------------------------------------------ ends
    def expired(self) -> None:
        """The response timeout passed (called by ``balancer.deadlines``)."""
        self._armed_s = 0.0
        conn, self.upstream = self.upstream, None
        if conn is not None:
            conn.abort()
        self._backend_done(False)
        timeout = self.balancer.timeouts(self.service_name).response_s
        self.fail(504, f"backend {self.backend.address if self.backend else '?'} did not answer "
                  f"within {timeout:g} s", TraceStatus.TIMEOUT)

    def fail(self, status: int, message: str, error: str) -> None:
        """End with an error: a balancer response if none went out yet, else close."""
        self._cancel_timer()
        conn, self.upstream = self.upstream, None
        if conn is not None:
            conn.abort()
        self.error = error
        if self.head_sent:
            self.t_done = time.monotonic_ns()
            self._record()
            self.conn.abort()
            return
        self.status = status
        keep = self.keep_alive and self.body_done and not self.conn.closing
        self.conn.write(error_response(status, message + ".", keep))
        self._finish(keep)

    def cancel(self) -> None:
        """The client went away: drop the backend connection (it cannot be reused)."""
        self._cancel_timer()
        conn, self.upstream = self.upstream, None
        if conn is not None:
            conn.abort()
            self._backend_done(None)
        if not self.error:
            self.error = TraceStatus.CANCELLED
        self.t_done = time.monotonic_ns()
        self._record()

    def _finish(self, reusable: bool) -> None:
        self.t_done = time.monotonic_ns()  # (the write itself leaves at the pass's end)
        if self.balancer.tracing:
            self._record()
        else:
            self._recorded = True
        self.conn.exchange_done(self, reusable)

    def _backend_done(self, ok: bool | None, now: int = 0) -> None:
        """Account the end of the current attempt (``None``: neither success nor failure) at
        ``now`` (monotonic ns; 0: read the clock)."""
        backend = self.backend
        if backend is None or backend.outstanding <= 0:
            return
        now = now or time.monotonic_ns()
        if ok is None:
            backend.outstanding -= 1
        else:
            backend.finished(ok, now - self.t_sent, now, self.balancer.config.health)

    def _cancel_timer(self) -> None:
        if self._armed_s:
            self.balancer.deadlines.disarm(self, self._armed_s)
            self._armed_s = 0.0

    def _record(self) -> None:
        """Emit the trace (once: a failure that closes the client ends here only once)."""
        if self._recorded:
            return
        self._recorded = True
        balancer = self.balancer
        if not balancer.tracing or balancer.tracer is None:
            return
        off = balancer.wall_offset_ns
        sent = self.t_sent + off if self.t_sent else 0
        up_done = self.t_up_done + off if self.t_up_done else 0
        balancer.tracer(LbTrace(
            request_id=(self.request_id or next_request_id().encode()).decode("latin-1")[:64],
            exp_id=balancer.exp_id,
            lb=balancer.config.name, service=self.service_name,
            backend=self.backend.address if self.backend else "", policy=balancer.policy_name,
            method=self.method.decode("latin-1"), path=self.url.decode("latin-1")[:1024],
            received_ns=self.t_received + off, upstream_sent_ns=sent,
            upstream_done_ns=up_done, done_ns=self.t_done + off, status=self.status,
            error=str(self.error), attempts=self.attempts,
        ))

