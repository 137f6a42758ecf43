"""The heads the balancer builds from what it parsed: hop-by-hop headers (the fixed set and
what Connection names) left out, names kept in their original case, framing re-stated.
Pure logic: bytes in, bytes out (the proxy tests cover the same over real sockets)."""

from __future__ import annotations

from typing import Any

from galileo.lb.headers import SEP, header_value, request_head, response_head, without_named
from galileo.lb.upstream import Upstream, UpstreamPool


def _pieces(*pairs: tuple[bytes, bytes]) -> list[bytes]:
    out: list[bytes] = []
    for name, value in pairs:
        out += (name, SEP, value, b"\r\n")
    return out


class _Heard:
    """What an upstream connection reports (the exchange's side), kept for the test."""

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.body = b""
        self.done = False

    def upstream_connected(self) -> None: ...
    def upstream_connect_failed(self, error: str) -> None: ...
    def upstream_failed(self, error: str, got_bytes: bool) -> None: ...
    def pause_client(self, paused: bool) -> None: ...

    def response_head(self, status: int, reason: bytes, pieces: list[bytes], keep_alive: bool,
                      **framing: Any) -> None:
        self.head = {"status": status, "reason": reason, "pieces": pieces,
                     "keep_alive": keep_alive, **framing}

    def response_body(self, data: bytes) -> None:
        self.body += data

    def response_done(self) -> None:
        self.done = True


def _parse_response(raw: bytes) -> _Heard:
    up = Upstream(UpstreamPool(1.0), "127.0.0.1:1")
    heard = _Heard()
    up.start(heard)
    up.data_received(raw)
    return heard


def test_response_head_drops_what_connection_names_and_keeps_the_case() -> None:
    heard = _parse_response(
        b"HTTP/1.1 201 Made It\r\nServer: t\r\nConnection: keep-alive, X-Internal\r\n"
        b"X-Internal: secret\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n"
        b"X-Trace-ID: abc\r\n\r\nok")
    head = heard.head
    assert head["status"] == 201 and head["reason"] == b"Made It" and heard.done
    assert head["length"] == 2 and head["chunked"] is False
    assert head["connection"] == b"keep-alive, X-Internal"
    built = response_head(201, head["reason"], head["pieces"], body=2, chunked=False,
                          keep_alive=True, connection=head["connection"])
    assert built == (b"HTTP/1.1 201 Made It\r\nServer: t\r\nX-Trace-ID: abc\r\n"
                     b"Content-Length: 2\r\nConnection: keep-alive\r\n\r\n")
    assert heard.body == b"ok"


def test_chunked_response_is_noted_and_its_header_not_forwarded() -> None:
    heard = _parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nA: 1\r\n\r\n"
                            b"3\r\nabc\r\n0\r\n\r\n")
    assert heard.head["chunked"] is True and heard.head["length"] is None
    assert heard.head["pieces"] == _pieces((b"A", b"1")) and heard.body == b"abc"


def test_request_head_joins_forwarded_for_and_adds_what_is_missing() -> None:
    pieces = _pieces((b"Host", b"svc"), (b"X-Secret", b"s"), (b"Accept", b"*/*"))
    built = request_head(b"POST", b"/x", pieces, client=b"10.0.0.9", xff=b"1.2.3.4",
                         body=5, request_id=b"r1", backend=None,
                         connection=b"keep-alive, x-secret")
    assert built == (b"POST /x HTTP/1.1\r\nHost: svc\r\nAccept: */*\r\n"
                     b"X-Forwarded-For: 1.2.3.4, 10.0.0.9\r\nX-Request-Id: r1\r\n"
                     b"Content-Length: 5\r\n\r\n")
    bare = request_head(b"GET", b"/", [], client=b"10.0.0.9", xff=None, body=None,
                        request_id=None, backend="10.0.0.2:80")
    assert bare == (b"GET / HTTP/1.1\r\nHost: 10.0.0.2:80\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n")
    chunked = request_head(b"PUT", b"/", [], client=b"c", xff=None, body=-1, request_id=None,
                           backend=None)
    assert chunked.endswith(b"Transfer-Encoding: chunked\r\n\r\n")


def test_header_lookup_and_named_removal_ignore_case() -> None:
    pieces = _pieces((b"X-User", b"ann"), (b"x-user", b"bob"), (b"Other", b"o"))
    assert header_value(pieces, b"x-user") == b"ann"
    assert header_value(pieces, b"missing") is None
    assert without_named(pieces, b"X-USER") == _pieces((b"Other", b"o"))
    assert without_named(pieces, b"close") is pieces  # nothing beyond the fixed set
