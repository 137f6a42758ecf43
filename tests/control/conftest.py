"""A minimal worker loop speaking the protocol over the real Redis (for the controller's plumbing).

It registers like a worker, answers every command with a Reply and records what it received;
it runs no load. Tests against the real in-process ``galileo.worker`` live in test_real_worker.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from galileo import bus
from galileo.control import Galileo
from galileo.protocol import (
    Burst,
    CloseGroup,
    Keys,
    Reply,
    SpawnGroup,
    WorkerInfo,
    decode_command,
    encode,
)
from galileo.settings import Settings


class FakeWorker:
    def __init__(self, settings: Settings, name: str, clients: int = 0, silent: bool = False,
                 labels: dict[str, str] | None = None, report_clients: bool = True) -> None:
        self.name = name
        self.report_clients = report_clients  # False: a heartbeat lagging behind spawns
        self.keys = Keys(settings.namespace)
        self.r = bus.connect(settings)
        self.silent = silent
        self.received: list[Any] = []
        self.info = WorkerInfo(name=name, host=f"host-{name}", pid=1, processes=1,
                               labels=labels or {}, clients=clients)
        self._pubsub = self.r.pubsub()
        self._pubsub.subscribe(self.keys.worker_commands(name))
        self._pubsub.get_message(timeout=1.0)  # subscribe confirmation
        self.r.hset(self.keys.worker(name), "info", encode(self.info))
        self.r.sadd(self.keys.workers, name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._pubsub.get_message(timeout=0.05)
            if not msg or msg["type"] != "message":
                continue
            cmd = decode_command(msg["data"])
            self.received.append(cmd)
            if self.silent:
                continue
            data: dict[str, Any] = {}
            if isinstance(cmd, Burst):
                data = {"done": cmd.n, "errors": 0}
            if isinstance(cmd, CloseGroup):
                data = {"sent": 7, "done": 6, "errors": 1, "late": 0}
            if isinstance(cmd, SpawnGroup) and self.report_clients:
                self.info.clients += len(cmd.clients)
                self.r.hset(self.keys.worker(self.name), "info", encode(self.info))
            reply = Reply(corr=cmd.corr, worker=self.name, applied_ns=time.time_ns(), data=data)
            self.r.lpush(self.keys.reply(cmd.corr), encode(reply))

    def commands(self, kind: type) -> list[Any]:
        return [c for c in self.received if isinstance(c, kind)]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._pubsub.close()
        self.r.close()


@pytest.fixture
def fake_worker(settings: Settings) -> Iterator[Callable[..., FakeWorker]]:
    started: list[FakeWorker] = []

    def start(name: str, **kwargs: Any) -> FakeWorker:
        w = FakeWorker(settings, name, **kwargs)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def g(settings: Settings) -> Iterator[Galileo]:
    with Galileo(settings) as gal:
        yield gal


@pytest.fixture
def raw(redis_client: redis.Redis) -> redis.Redis:
    return redis_client

