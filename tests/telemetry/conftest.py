"""Fixtures for the telemetry agent: a node name per test and its seed keys cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.telemetry import Agent, AgentOptions


@pytest.fixture
def node(namespace: str, redis_client: redis.Redis) -> Iterator[str]:
    """A node name unique to the test; its seed ``telemd.info:<node>`` hash is deleted after."""
    name = "node-" + namespace
    yield name
    redis_client.delete(Keys.telemd_info(name))


@pytest.fixture
def make_agent(settings: Settings, node: str) -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def factory(**options: object) -> Agent:
        agent = Agent(settings, node, AgentOptions(**options))  # type: ignore[arg-type]
        agents.append(agent)
        return agent

    yield factory
    for agent in agents:
        agent.close()
