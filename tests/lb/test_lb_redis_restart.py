"""The balancer outlives its Redis: it serves the last routing table while Redis is down, and
follows the table again once Redis is back (empty, as a restarted lab Redis is)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.lb.http import backend_of
from tests.redis_server import RedisServer
from tests.waiting import until

from galileo import bus
from galileo.control.routing import RoutingTable
from galileo.protocol import Keys
from galileo.settings import Settings


@pytest.fixture
def private_settings(tmp_path: Path, namespace: str) -> Iterator[tuple[Settings, RedisServer]]:
    server = RedisServer(tmp_path).start()
    try:
        yield Settings.from_env({"galileo_redis_url": server.url, "galileo_namespace": namespace,
                                 "galileo_data_dir": str(tmp_path / "data"),
                                 "galileo_redis_retries": "0"}), server
    finally:
        server.stop()


def test_serves_through_a_redis_restart(private_settings, loop, backends):
    from tests.lb.conftest import start_balancer

    settings, server = private_settings
    a, b = backends("a"), backends("b")
    client = bus.connect(settings)
    RoutingTable(client, Keys(settings.namespace)).set("svc", [a.address])
    client.close()
    lb = start_balancer(loop, settings)
    try:
        until(lambda: "svc" in lb.balancer.services, 5, "the route")
        server.kill()
        assert {backend_of(lb.port) for _ in range(5)} == {"a"}  # last table kept
        server.start()  # back, empty
        client = bus.connect(settings)
        RoutingTable(client, Keys(settings.namespace)).set("svc", [b.address])
        client.close()
        until(lambda: backend_of(lb.port) == "b", 10, "the balancer to follow the new table")
    finally:
        lb.stop()
