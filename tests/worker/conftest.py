from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from workerhelpers import Bus, WorkerThread

from galileo.load.localserver import LocalServer
from galileo.protocol import (
    Keys,
)
from galileo.settings import Settings


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def worker(settings: Settings) -> Iterator[WorkerThread]:
    w = WorkerThread(settings).start()
    yield w
    w.stop()


@pytest.fixture
def wbus(redis_client: redis.Redis, settings: Settings) -> Bus:
    return Bus(redis_client, Keys(settings.namespace), settings.worker_name)
