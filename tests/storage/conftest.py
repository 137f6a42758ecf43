"""Storage fixtures: every test gets an empty scratch database on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from galileo.storage import ExpDB
from galileo.storage.scratch import scratch_database


@pytest.fixture
def db(expdb_url: str) -> Iterator[ExpDB]:
    """An ExpDB in its own database (MariaDB) / schema (PostgreSQL) / file (SQLite)."""
    with scratch_database(expdb_url, prefix="gtest") as url, ExpDB(url) as expdb:
        yield expdb
