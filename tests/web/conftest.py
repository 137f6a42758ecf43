"""The REST API against real Redis (test namespace), a real SQLite expdb and real workers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from galileo.load.httpclient import new_event_loop
from galileo.load.localserver import LocalServer
from galileo.settings import Settings
from galileo.web import create_app


def make_settings(settings: Settings, **changes: Any) -> Settings:
    """A validated copy of ``settings`` with ``changes`` (so a token becomes a SecretStr)."""
    return Settings.model_validate({**settings.model_dump(), **changes})


@pytest.fixture
def api_factory(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """``api_factory(api_token=...)``: a TestClient of the real app (lifespan run and closed)."""
    clients: list[TestClient] = []

    def make(**changes: Any) -> TestClient:
        client = TestClient(create_app(make_settings(settings, **changes)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(api_factory: Callable[..., TestClient]) -> TestClient:
    return api_factory()


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def real_worker(settings: Settings) -> Iterator[str]:
    """A real ``galileo.worker.Worker`` in-process on its own loop; yields its name."""
    from galileo.worker import Worker

    loop = new_event_loop()
    worker = Worker(settings, processes=1)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(worker.start(), loop).result(30)
    yield settings.worker_name
    asyncio.run_coroutine_threadsafe(worker.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
