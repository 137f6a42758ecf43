"""Building the heads the proxy sends: hop-by-hop headers removed (RFC 9110 7.6.1, plus every
header the ``Connection`` header names), framing re-stated, ``X-Forwarded-For`` appended.

Headers travel as *pieces*: the forwardable headers of a message as the flat list
``[name, b": ", value, b"\\r\\n", ...]`` (names in their original case), built while the
message is parsed with the fixed hop-by-hop set already left out; a head is then one
``b"".join``. What a ``Connection`` header names beyond the fixed set is removed at the end
(:func:`without_named`), the rare case.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Final

__all__ = ["HOP_BY_HOP", "REQUEST_ID", "SEP", "XFF", "drop_set", "error_response", "header_value",
           "request_head", "response_head", "without_named"]

HOP_BY_HOP: Final = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
    b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    b"content-length",  # re-stated by the proxy from the framing it actually uses
})
XFF: Final = b"x-forwarded-for"
REQUEST_ID: Final = b"x-request-id"
SEP: Final = b": "  # pieces: name, SEP, value, CRLF
CRLF: Final = b"\r\n"

# Connection tokens that name no header to remove: the fixed set and "close" (a connection
# option; RFC 9110 reserves "Close" as a field name)
_NOT_NAMES: Final = HOP_BY_HOP | {b"close"}

MAX_REMEMBERED: Final = 1024  # Connection header values whose drop set is remembered
_drop_sets: dict[bytes, frozenset[bytes]] = {}
_named: dict[bytes, frozenset[bytes]] = {}  # Connection value -> the header names it adds


def drop_set(connection: bytes | None) -> frozenset[bytes]:
    """Lower-case names not to forward given the ``Connection`` header's value(s),
    comma-joined (None: the message has none): the fixed set plus the names it lists."""
    if connection is None:
        return HOP_BY_HOP
    drop = _drop_sets.get(connection)  # the same few values ("keep-alive", "close") come again
    if drop is None:
        named = {t.strip().lower() for t in connection.split(b",") if t.strip()}
        if len(_drop_sets) >= MAX_REMEMBERED:
            _drop_sets.clear()
        drop = _drop_sets[connection] = HOP_BY_HOP | named
    return drop


def without_named(pieces: list[bytes], connection: bytes | None) -> list[bytes]:
    """``pieces`` without the headers that ``connection`` names beyond the fixed set."""
    if connection is None:
        return pieces
    extra = _named.get(connection)  # usually "keep-alive" or "close": nothing beyond
    if extra is None:
        if len(_named) >= MAX_REMEMBERED:
            _named.clear()
        extra = _named[connection] = drop_set(connection) - _NOT_NAMES
    if not extra:
        return pieces
    out: list[bytes] = []
    for i in range(0, len(pieces), 4):
        if pieces[i].lower() not in extra:
            out += pieces[i:i + 4]
    return out


def header_value(pieces: list[bytes], name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case) among ``pieces``, or None."""
    for i in range(0, len(pieces), 4):
        if pieces[i].lower() == name:
            return pieces[i + 2]
    return None


def request_head(method: bytes, target: bytes, pieces: list[bytes], *, client: bytes,
                 xff: bytes | None, body: int | None, request_id: bytes | None,
                 backend: str | None, connection: bytes | None = None) -> bytes:
    """Request head for a backend. ``pieces``: the client's forwardable headers;
    ``client``: its address and ``xff`` the X-Forwarded-For it sent (the two are joined);
    ``body``: Content-Length, -1 for chunked, None for no body; ``request_id`` is added when
    the client did not send one; ``backend`` becomes the Host when the client sent none
    (None: it did); ``connection``: the client's Connection header value(s)."""
    out = [method, b" ", target, b" HTTP/1.1\r\n"]
    out += pieces if connection is None else without_named(pieces, connection)
    if backend is not None:
        out += (b"Host: ", backend.encode("latin-1"), CRLF)
    out += (b"X-Forwarded-For: ", xff + b", " + client if xff else client, CRLF)
    if request_id is not None:
        out += (b"X-Request-Id: ", request_id, CRLF)
    if body is not None:
        out.append(b"Transfer-Encoding: chunked\r\n" if body < 0
                   else b"Content-Length: %d\r\n" % body)
    out.append(CRLF)
    return b"".join(out)


def response_head(status: int, reason: bytes, pieces: list[bytes], *, body: int | None,
                  chunked: bool, keep_alive: bool, connection: bytes | None = None) -> bytes:
    """Response head for the client: ``body`` is the Content-Length when known; ``chunked``
    says the proxy re-chunks the body; otherwise the body (if any) ends with the connection.
    ``pieces`` and ``connection`` as for :func:`request_head`."""
    out = [b"HTTP/1.1 %d " % status, reason or _reason(status), CRLF]
    out += pieces if connection is None else without_named(pieces, connection)
    if body is not None:
        out.append(b"Content-Length: %d\r\n" % body)
    elif chunked:
        out.append(b"Transfer-Encoding: chunked\r\n")
    out.append(b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n")
    return b"".join(out)


def error_response(status: int, message: str, keep_alive: bool,
                   extra: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    """A complete plain-text error response from the balancer itself."""
    body = f"galileo lb: {message}\n".encode()
    pieces = [b"Content-Type", SEP, b"text/plain; charset=utf-8", CRLF]
    for name, value in extra:
        pieces += (name, SEP, value, CRLF)
    return response_head(status, b"", pieces, body=len(body), chunked=False,
                         keep_alive=keep_alive) + body


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Unknown"
