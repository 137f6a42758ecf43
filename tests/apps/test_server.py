"""The HTTP framework against real sockets: keep-alive, pipelining, errors, robustness."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from galileo.apps import Request, Response, Router, serve_background, text_response
from galileo.apps import connection as connection_module
from galileo.errors import ConfigError, NotFoundError

Connect = Callable[..., Any]


def _post(path: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: text/plain\r\n{extra}\r\n").encode() + body


def test_echo_keep_alive_two_requests_on_one_connection(connect: Connect) -> None:
    conn = connect()
    conn.send(_post("/echo", b"first"))
    first = conn.read_response()
    conn.send(_post("/echo/anything/below", b"second"))
    second = conn.read_response()
    conn.send(b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
    third = conn.read_response()
    assert (first.status, first.body, first.headers["content-type"]) == (200, b"first",
                                                                           "text/plain")
    assert (second.status, second.body) == (200, b"second")
    assert third.status == 200 and third.body == b"echo\n"
    assert "connection" not in first.headers  # kept alive


def test_pipelined_requests_answer_in_order(connect: Connect) -> None:
    conn = connect()
    conn.send(_post("/echo", b"a") + b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
              + _post("/echo", b"b" * 5000) + b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
    answers = [conn.read_response() for _ in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 404]
    assert answers[0].body == b"a"
    assert json.loads(answers[1].body)["status"] == "ok"
    assert answers[2].body == b"b" * 5000


def test_unknown_path_404_and_wrong_method_405(connect: Connect) -> None:
    conn = connect()
    conn.send(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\nDELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n")
    missing, wrong = conn.read_response(), conn.read_response()
    assert missing.status == 404 and "/nope" in json.loads(missing.body)["error"]
    assert wrong.status == 405 and wrong.headers["allow"] == "GET, POST"
    assert "DELETE" in json.loads(wrong.body)["error"]


@pytest.mark.parametrize("garbage", [
    b"THIS IS NOT HTTP\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    b"\x00\xff\x16\x03\x01 binary junk\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_malformed_request_gets_400_and_close_server_survives(
    connect: Connect, garbage: bytes
) -> None:
    bad = connect()
    bad.send(garbage)
    answer = bad.read_response()
    assert answer.status == 400
    assert answer.headers["connection"] == "close"
    assert json.loads(answer.body)["error"]
    assert bad.is_closed_by_peer()
    good = connect()
    good.send(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert good.read_response().status == 200


def test_chunked_request_body_is_reassembled(connect: Connect) -> None:
    conn = connect()
    conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    answer = conn.read_response()
    assert (answer.status, answer.body) == (200, b"hello world")


def test_http10_and_connection_close_are_honoured(connect: Connect) -> None:
    old = connect()
    old.send(b"GET /health HTTP/1.0\r\n\r\n")
    assert old.read_response().status == 200
    assert old.is_closed_by_peer()
    explicit = connect()
    explicit.send(_post("/echo", b"x", "Connection: close\r\n"))
    answer = explicit.read_response()
    assert answer.headers["connection"] == "close" and explicit.is_closed_by_peer()


def test_expect_100_continue(connect: Connect) -> None:
    conn = connect()
    conn.send(_post("/echo", b"", "Expect: 100-continue\r\n").replace(
        b"Content-Length: 0", b"Content-Length: 4"))
    assert conn.read_response().status == 100
    conn.send(b"body")
    assert conn.read_response().body == b"body"


def test_oversized_body_gets_413(connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "MAX_BODY_BYTES", 1000)
    conn = connect()
    conn.send(_post("/echo", b"y" * 2000))
    assert conn.read_response().status == 413


def _slow_router() -> Router:
    router = Router()

    async def slow(req: Request) -> Response:
        await asyncio.sleep(0.05)
        return text_response("slow")

    async def fast(req: Request) -> Response:
        return text_response("fast")

    async def broken(req: Request) -> Response:
        raise RuntimeError("boom")

    router.get("/slow", slow)
    router.get("/fast", fast)
    router.get("/broken", broken)
    return router


def test_suspending_handler_keeps_pipeline_order_and_errors_are_500(connect: Connect) -> None:
    with serve_background(_slow_router()) as server:
        conn = connect(server.port)
        conn.send(b"".join(f"GET /{p} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
                           for p in ("slow", "fast", "broken", "slow", "fast")))
        answers = [conn.read_response() for _ in range(5)]
    assert [a.body for a in answers[:2]] == [b"slow", b"fast"]
    assert answers[2].status == 500 and json.loads(answers[2].body)["error"]
    assert [a.body for a in answers[3:]] == [b"slow", b"fast"]


def test_unknown_service_and_busy_port_are_clear_errors(app_server: Any) -> None:
    with pytest.raises(NotFoundError, match="unknown service 'nosuch'"):
        serve_background(["nosuch"]).__enter__()
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{app_server.port}"):
        serve_background(["echo"], port=app_server.port).__enter__()


def test_pipelined_flood_with_slow_reader_is_answered_completely_in_order(
    connect: Connect,
) -> None:
    conn = connect()
    bodies = [bytes([65 + i % 26]) * 65536 for i in range(150)]  # ~10 MB of responses
    sender = threading.Thread(target=conn.send, args=(b"".join(_post("/echo", b) for b in bodies),))
    sender.start()
    received = [conn.read_response().body for _ in bodies]
    sender.join()
    assert received == bodies
