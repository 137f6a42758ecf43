"""The HTTP/1.1 connection: an asyncio Protocol fed by ``httptools``.

Requests on one connection are answered strictly in order (pipelining-safe): a handler that
finishes without suspending is run inline, without a Task (the fast path); one that suspends is
driven by a Task and later requests wait in a queue. Malformed input answers 400 and closes.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from collections.abc import Coroutine, Generator
from functools import partial
from typing import Any, cast

import httptools

from galileo.apps.http import Request, Response, error_response
from galileo.apps.router import Router

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_QUEUED_REQUESTS = 64  # pipelined requests held before reading pauses
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _TooLarge(Exception):
    pass


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, router: Router, connections: set[HttpProtocol]) -> None:
        self._router = router
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._keep_alive = True
        self._expect_continue = False
        self._queue: deque[Request] = deque()
        self._task: asyncio.Task[Response] | None = None
        self._closing = False
        self._eof = False
        self._reading_paused = False
        self._writing_paused = False

    # ------------------------------------------------------------------ transport events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._connections.discard(self)
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported.")
        except httptools.HttpParserError as e:
            if isinstance(e.__context__, _TooLarge):
                self._fail(413, f"request body is larger than {MAX_BODY_BYTES} bytes.")
            else:
                self._fail(400, "malformed HTTP request.")

    def pause_writing(self) -> None:
        # the client is not reading its responses: stop reading its requests until it does
        self._writing_paused = True
        if self._transport is not None and not self._closing:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._transport is not None and not self._closing and not self._reading_paused:
            self._transport.resume_reading()

    def eof_received(self) -> bool | None:
        # half-close: answer what was received, then close
        if self._task is None and not self._queue:
            return None
        self._eof = True
        return True

    def close(self) -> None:
        """Close the connection now (server shutdown)."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    # ------------------------------------------------------------------ parser callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []
        self._body_size = 0
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        if len(name) == 6 and name.lower() == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True

    def on_headers_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        if self._expect_continue and self._task is None and not self._queue:
            assert self._transport is not None
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY_BYTES:
            raise _TooLarge
        self._body.append(body)

    def on_message_complete(self) -> None:
        url = self._url
        mark = url.find(b"?")
        path, query = (url, b"") if mark < 0 else (url[:mark], url[mark + 1 :])
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        req = Request(
            self._parser.get_method().decode("latin-1"),
            path.decode("latin-1"),
            query.decode("latin-1"),
            self._headers,
            body,
            self._keep_alive,
        )
        if self._task is not None or self._queue:
            self._queue.append(req)
            if len(self._queue) >= MAX_QUEUED_REQUESTS and not self._reading_paused:
                assert self._transport is not None
                self._transport.pause_reading()
                self._reading_paused = True
            return
        self._dispatch(req)

    # ------------------------------------------------------------------ answering
    def _dispatch(self, req: Request) -> None:
        coro = self._router.resolve(req.method, req.path)(req)
        assert isinstance(coro, Coroutine)
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            self._respond(req, stop.value)
            return
        except Exception:
            log.exception("handler for %s %s failed", req.method, req.path)
            self._respond(req, error_response(500, "internal server error."))
            return
        task = asyncio.get_running_loop().create_task(_resume(coro, yielded))
        self._task = task
        task.add_done_callback(partial(self._on_task_done, req))

    def _on_task_done(self, req: Request, task: asyncio.Task[Response]) -> None:
        self._task = None
        if task.cancelled() or self._closing:
            return
        exc = task.exception()
        if exc is not None:
            log.error("handler for %s %s failed", req.method, req.path, exc_info=exc)
            self._respond(req, error_response(500, "internal server error."))
        else:
            self._respond(req, task.result())
        while self._queue and self._task is None and not self._closing:
            self._dispatch(self._queue.popleft())
        if self._reading_paused and not self._closing and len(self._queue) < MAX_QUEUED_REQUESTS:
            assert self._transport is not None
            self._reading_paused = False
            if not self._writing_paused:
                self._transport.resume_reading()

    def _respond(self, req: Request, resp: Response) -> None:
        if self._closing:
            return
        assert self._transport is not None
        if not isinstance(resp, Response):
            log.error("handler for %s %s returned %r, not a Response", req.method, req.path, resp)
            resp = error_response(500, "internal server error.")
        keep_alive = req.keep_alive and not (self._eof and not self._queue)
        try:
            data = resp.encode(keep_alive)
        except ValueError:
            log.exception("response to %s %s cannot be encoded", req.method, req.path)
            data = error_response(500, "internal server error.").encode(keep_alive)
        self._transport.write(data)
        if not keep_alive:
            self._closing = True
            self._transport.close()

    def _fail(self, status: int, message: str) -> None:
        """Answer a protocol error (after any responses still owed, if possible) and close."""
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._closing = True
        assert self._transport is not None
        self._transport.write(error_response(status, message).encode(False))
        self._transport.close()


@types.coroutine
def _drive(coro: Coroutine[Any, Any, Response], yielded: Any) -> Generator[Any, Any, Response]:
    """Continue a coroutine that already ran up to its first suspension point."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # cancellation and friends go to the handler
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                result: Response = stop.value
                return result
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                result = stop.value
                return result


async def _resume(coro: Coroutine[Any, Any, Response], yielded: Any) -> Response:
    return await _drive(coro, yielded)
