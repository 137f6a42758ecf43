"""The gRPC tests' fixtures: the real experiment service (real Redis and SQLite, no runner), a
real server on a free loopback port, a real client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from galileo.experiments.service import ExperimentService
from galileo.grpc.client import ExperimentClient
from galileo.grpc.server import create_server
from galileo.settings import Settings


@pytest.fixture
def service(settings: Settings) -> Iterator[ExperimentService]:
    with ExperimentService(settings) as svc:
        yield svc


@pytest.fixture
def address(service: ExperimentService) -> Iterator[str]:
    server, port = create_server(service, 0, "127.0.0.1")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None).wait()


@pytest.fixture
def client(address: str) -> Iterator[ExperimentClient]:
    with ExperimentClient(address) as c:
        yield c
