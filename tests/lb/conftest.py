"""Fixtures of the balancer tests: backends and a balancer on an event loop thread, real Redis
(the routing table and commands go through the bus exactly as in production)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

if os.environ.get(NATIVE_ENV := "GALILEO_TEST_LB_NATIVE_DATA_DIR"):  # before the proxy imports
    # this run checks the compiled balancer (tests/lb/test_lb_native.py starts it): the same
    # tests, on the modules built under that data directory
    from galileo.lb.native import activate

    activate("require", Path(os.environ[NATIVE_ENV]))

from tests.lb.backends import LoopThread, TestBackend

from galileo import bus
from galileo.lb.balancer import Balancer, ProxyConfig
from galileo.lb.follower import LbFollower
from galileo.lb.policies import load_policy
from galileo.lb.proxy import ProxyServer
from galileo.protocol import Keys
from galileo.routing import RoutingTable
from galileo.settings import Settings

if os.environ.get(NATIVE_ENV):
    from galileo.lb.native import running

    assert running() == "compiled with mypyc", "the proxy modules were not the compiled ones"


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture
def backends(loop: LoopThread) -> Iterator[Callable[..., TestBackend]]:
    made: list[TestBackend] = []

    def make(name: str, mode: str = "ok", delay_s: float = 0.0) -> TestBackend:
        made.append(TestBackend(loop, name, mode, delay_s))
        return made[-1]

    yield make
    for backend in made:
        backend.kill()


@pytest.fixture
def routing(settings: Settings) -> Iterator[RoutingTable]:
    client = bus.connect(settings)
    yield RoutingTable(client, Keys(settings.namespace))
    client.close()


@dataclass
class RunningLb:
    balancer: Balancer
    follower: LbFollower
    server: ProxyServer
    port: int
    loop: LoopThread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        done: list[str] = []

        async def _stop() -> None:
            await self.server.close()
            done.append("proxy server closed")
            await self.follower.stop()
            done.append("follower stopped")

        try:
            self.loop.run(_stop())
        except TimeoutError:  # say where it hangs: the steps done and every task's stack
            raise TimeoutError(f"stopping the balancer hung after {done or 'nothing'}; tasks:\n"
                               + self.loop.run(_task_stacks(), timeout=5)) from None


async def _task_stacks() -> str:
    import asyncio
    import io

    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.print_stack(file=out)
    return out.getvalue()


def start_balancer(loop: LoopThread, settings: Settings, policy: str = "wrr",
                   trace: bool = True, **config: Any) -> RunningLb:
    """A balancer (one process, on the loop thread) following ``settings``' namespace."""
    async def _start() -> RunningLb:
        balancer = Balancer(ProxyConfig(**config), load_policy(policy))
        follower = LbFollower(settings, balancer, trace=trace)
        await follower.start()
        server = ProxyServer(balancer)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        await server.start(sock)
        return RunningLb(balancer, follower, server, server.address[1], loop)

    return loop.run(_start())


@pytest.fixture
def start_lb(loop: LoopThread, settings: Settings) -> Iterator[Callable[..., RunningLb]]:
    """Start balancers on the loop thread following the test's namespace (stopped after)."""
    started: list[RunningLb] = []

    def start(policy: str = "wrr", trace: bool = True, **config: Any) -> RunningLb:
        started.append(start_balancer(loop, settings, policy, trace, **config))
        return started[-1]

    yield start
    for running in started:
        running.stop()
