from __future__ import annotations

import asyncio
import socket

from galileo.load.httpclient import HttpClient, new_event_loop, parse_address
from galileo.load.localserver import LocalServer
from galileo.protocol import RequestSpec


def run(coro):  # type: ignore[no-untyped-def]
    loop = new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def test_parse_address() -> None:
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080, False, "127.0.0.1:8080")
    assert parse_address("http://svc.local") == ("svc.local", 80, False, "svc.local")
    assert parse_address("https://svc.local:8443").tls


def test_keep_alive_reuses_one_connection(http_server: LocalServer) -> None:
    async def main() -> list[tuple[int, int, str]]:
        client = HttpClient(timeout_s=5)
        out = [await client.request(http_server.address, RequestSpec(path="/echo"))
               for _ in range(20)]
        client.close()
        return out

    results = run(main())
    assert all(r[0] == 200 and r[2] == "" and r[1] > 0 for r in results)
    assert http_server.requests == 20
    assert http_server.connections == 1


def test_post_json_and_status(http_server: LocalServer) -> None:
    async def main() -> tuple[tuple[int, int, str], tuple[int, int, str]]:
        client = HttpClient()
        a = await client.request(http_server.address, RequestSpec(method="POST", json={"a": 1}))
        b = await client.request(http_server.address, RequestSpec(path="/status/503"))
        client.close()
        return a, b

    a, b = run(main())
    assert a[0] == 200
    assert b[0] == 503


def test_timeout(http_server: LocalServer) -> None:
    async def main() -> tuple[int, int, str]:
        client = HttpClient(timeout_s=0.1)
        r = await client.request(http_server.address, RequestSpec(path="/sleep/2000"))
        client.close()
        return r

    assert run(main()) == (0, 0, "timeout")


def test_refused_port_is_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> tuple[int, int, str]:
        client = HttpClient(timeout_s=2)
        r = await client.request(f"127.0.0.1:{port}")
        client.close()
        return r

    assert run(main()) == (0, 0, "connect")


def test_closed_and_cancelled(http_server: LocalServer) -> None:
    async def main() -> tuple[tuple[int, int, str], tuple[int, int, str]]:
        client = HttpClient(timeout_s=5)
        closed = await client.request(http_server.address, RequestSpec(path="/close"))
        pending = asyncio.ensure_future(
            client.request(http_server.address, RequestSpec(path="/sleep/3000")))
        await asyncio.sleep(0.05)
        client.close()
        return closed, await pending

    closed, cancelled = run(main())
    assert closed[2] == "closed"
    assert cancelled[2] == "cancelled"
