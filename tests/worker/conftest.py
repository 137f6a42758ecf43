from __future__ import annotations

from collections.abc import Iterator

import pytest

from galileo.load.localserver import LocalServer


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server
