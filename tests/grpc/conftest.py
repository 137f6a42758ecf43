"""The gRPC tests' client fixture (the service and its real server on a free loopback port come
from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from galileo.grpc.client import ExperimentClient


@pytest.fixture
def client(address: str) -> Iterator[ExperimentClient]:
    with ExperimentClient(address) as c:
        yield c
