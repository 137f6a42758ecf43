"""Building the heads the proxy sends: hop-by-hop headers removed (RFC 9110 7.6.1, plus every
header the ``Connection`` header names), framing re-stated, ``X-Forwarded-For`` appended."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Final

__all__ = ["drop_set", "error_response", "hop_by_hop", "request_head", "response_head"]

HOP_BY_HOP: Final = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
    b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    b"content-length",  # re-stated by the proxy from the framing it actually uses
})
XFF: Final = b"x-forwarded-for"
REQUEST_ID: Final = b"x-request-id"

Headers = Sequence[tuple[bytes, bytes]]  # names in lower case (as parsed by the proxy)


MAX_REMEMBERED: Final = 1024  # Connection header values whose drop set is remembered
_drop_sets: dict[bytes, frozenset[bytes]] = {}


def hop_by_hop(headers: Headers) -> frozenset[bytes]:
    """Lower-case names not to forward: the fixed set plus those listed in ``Connection``."""
    extra = [v for n, v in headers if n == b"connection"]
    return drop_set(b",".join(extra) if extra else None)


def drop_set(connection: bytes | None) -> frozenset[bytes]:
    """The names not to forward given the ``Connection`` header's value(s), comma-joined
    (None: the message has none)."""
    if connection is None:
        return HOP_BY_HOP
    drop = _drop_sets.get(connection)  # the same few values ("keep-alive", "close") come again
    if drop is None:
        named = {t.strip().lower() for t in connection.split(b",") if t.strip()}
        if len(_drop_sets) >= MAX_REMEMBERED:
            _drop_sets.clear()
        drop = _drop_sets[connection] = HOP_BY_HOP | named
    return drop


def request_head(method: bytes, target: bytes, headers: Headers, *, client: str,
                 body: int | None, request_id: bytes | None, backend: str,
                 connection: bytes | None = None) -> bytes:
    """Request head for a backend. ``body``: its Content-Length, or -1 for chunked, None for
    no body. ``request_id`` is added when the client did not send one. ``connection``: the
    value(s) of the ``Connection`` headers among ``headers`` (None: there are none)."""
    drop = drop_set(connection)
    out = [method, b" ", target, b" HTTP/1.1\r\n"]
    xff = b""
    has_host = False
    for name, value in headers:
        if name in drop:
            continue
        if name == XFF:
            xff = value + b", " if not xff else xff + value + b", "
            continue
        if name == b"host":
            has_host = True
        out += [name, b": ", value, b"\r\n"]
    if not has_host:
        out += [b"Host: ", backend.encode("latin-1"), b"\r\n"]
    out += [b"X-Forwarded-For: ", xff, client.encode("latin-1"), b"\r\n"]
    if request_id is not None:
        out += [b"X-Request-Id: ", request_id, b"\r\n"]
    if body is not None:
        out.append(b"Transfer-Encoding: chunked\r\n" if body < 0
                   else b"Content-Length: %d\r\n" % body)
    out.append(b"\r\n")
    return b"".join(out)


def response_head(status: int, reason: bytes, headers: Headers, *, body: int | None,
                  chunked: bool, keep_alive: bool, connection: bytes | None = None) -> bytes:
    """Response head for the client: ``body`` is the Content-Length when known; ``chunked``
    says the proxy re-chunks the body; otherwise the body (if any) ends with the connection.
    ``connection`` as for :func:`request_head`."""
    drop = drop_set(connection)
    out = [b"HTTP/1.1 %d " % status, reason or _reason(status), b"\r\n"]
    for name, value in headers:
        if name not in drop:
            out += [name, b": ", value, b"\r\n"]
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
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *extra]
    return response_head(status, b"", headers, body=len(body), chunked=False,
                         keep_alive=keep_alive) + body



def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Unknown"
