"""Request and response objects of Galileo's service framework, kept small for speed.

A handler is ``async def handler(req: Request) -> Response``. Responses are serialised once, into
one ``bytes`` object, by :meth:`Response.encode`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import msgspec

__all__ = [
    "Handler",
    "Request",
    "Response",
    "error_response",
    "json_response",
    "text_response",
]

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
OCTET_TYPE = "application/octet-stream"

_json_encode = msgspec.json.encode
_STATUS_LINES: dict[int, bytes] = {
    s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus
}


class Request:
    """One parsed HTTP request; ``headers`` has lower-cased names (last value wins)."""

    __slots__ = ("_headers", "_raw_headers", "body", "keep_alive", "method", "path", "query")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
        keep_alive: bool,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self._raw_headers = raw_headers
        self._headers: dict[str, str] | None = None
        self.body = body
        self.keep_alive = keep_alive

    @property
    def headers(self) -> dict[str, str]:
        """Header names lower-cased, built on first use."""
        if self._headers is None:
            self._headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self._raw_headers
            }
        return self._headers

    def header(self, name: str, default: str = "") -> str:
        """One header's value (``name`` lower-case), without building :attr:`headers`."""
        if self._headers is not None:
            return self._headers.get(name, default)
        key = name.encode("latin-1")
        for k, v in reversed(self._raw_headers):
            if len(k) == len(key) and k.lower() == key:
                return v.decode("latin-1")
        return default

    def json(self) -> Any:
        """The body decoded as JSON; raises ``msgspec.DecodeError`` when it is not JSON."""
        return msgspec.json.decode(self.body)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path} body={len(self.body)}B>"


class Response:
    """Status, extra headers and body bytes; ``Content-Length`` is always added."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str = TEXT_TYPE,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers

    def encode(self, keep_alive: bool) -> bytes:
        """The full response (status line, headers, body) as one bytes object."""
        status_line = _STATUS_LINES.get(self.status) or b"HTTP/1.1 %d Unknown\r\n" % self.status
        extra = b""
        if self.headers:
            lines = [f"{_clean(k)}: {_clean(v)}\r\n" for k, v in self.headers.items()]
            extra = "".join(lines).encode("latin-1")
        return b"".join((
            status_line,
            _date_header(),
            b"content-type: ",
            self.content_type.encode("latin-1"),
            b"\r\ncontent-length: %d\r\n" % len(self.body),
            extra,
            b"\r\n" if keep_alive else b"connection: close\r\n\r\n",
            self.body,
        ))

    def __repr__(self) -> str:
        return f"<Response {self.status} body={len(self.body)}B>"


Handler = Callable[[Request], Awaitable[Response]]


def json_response(
    obj: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response (encoded with msgspec)."""
    return Response(status, _json_encode(obj), JSON_TYPE, headers)


def text_response(text: str, status: int = 200) -> Response:
    """A UTF-8 text response."""
    return Response(status, text.encode(), TEXT_TYPE)


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The short JSON error every failure answers with: ``{"error": message}``."""
    return json_response({"error": message}, status, headers)


def _clean(value: str) -> str:
    """Refuse header values that would split the header block."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header text {value!r} contains a line break")
    return value


_date_cache: list[Any] = [0, b""]


def _date_header() -> bytes:
    now = int(time.time())
    if now != _date_cache[0]:
        _date_cache[0] = now
        _date_cache[1] = f"date: {formatdate(now, usegmt=True)}\r\n".encode()
    value: bytes = _date_cache[1]
    return value
