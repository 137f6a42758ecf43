"""The telemetry agent across an empty Redis restart and an outage: it re-registers its node
(set member and info) within 5 s, logs the outage once, and never dies."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo import bus
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.telemetry import Agent, AgentOptions
from redis_server import RedisServer
from waiting import until


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    s = RedisServer(tmp_path).start()
    yield s
    s.stop()


def test_telemetry_agent_rejoins_an_empty_redis(server: RedisServer, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({"galileo_redis_url": server.url, "galileo_namespace": "tb",
                                  "galileo_data_dir": str(tmp_path / "data")})
    keys = Keys("tb")
    client = bus.connect(settings)
    agent = Agent(settings, "node-1", AgentOptions(instruments=("cpu", "ram"), period_s=0.2,
                                                   discover_containers=False,
                                                   publish_topics=False))
    try:
        with caplog.at_level(logging.WARNING, logger="galileo.telemetry.agent"):
            agent.start()
            until(lambda: client.xlen(keys.telemetry) > 0, 10, "the first samples")
            server.restart()  # back EMPTY
            until(lambda: client.sismember(keys.telemd_nodes, "node-1")
                  and client.exists(keys.telemd_info("node-1")), 5, "re-registration")
            server.kill()  # an outage: logged once, however long
            until(lambda: any("retrying with backoff" in r.getMessage()
                              for r in caplog.records), 10, "the outage")
            time.sleep(2)  # several reconnect attempts: still one log line
            server.start()
            until(lambda: client.sismember(keys.telemd_nodes, "node-1"), 10,
                  "registration after the outage")
            until(lambda: client.xlen(keys.telemetry) > 0, 5, "samples after the outage")
        assert agent._thread is not None and agent._thread.is_alive()
        outage_lines = [r for r in caplog.records if "retrying with backoff" in r.getMessage()]
        assert len(outage_lines) == 1, [r.getMessage() for r in caplog.records]
        assert outage_lines[0].getMessage().startswith(
            f"telemd node-1: cannot reach Redis at 127.0.0.1:{server.port}: ")
    finally:
        agent.close()
        client.close()
