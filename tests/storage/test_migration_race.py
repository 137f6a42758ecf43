"""Several processes opening one new experiment database at the same moment (a testbed's
recorder and its test, a cluster's replicas) leave it created once and stamped once: exactly
one ``alembic_version`` row, at head. On SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from galileo.storage.migrations import head
from galileo.storage.scratch import scratch_database

PROCESSES = 6
OPEN_AT_ONCE = """
import sys, time
from galileo.storage.expdb import ExpDB
at = float(sys.argv[2])
while time.time() < at:
    time.sleep(0.001)
with ExpDB(sys.argv[1]) as db:
    db.traces()
"""


@pytest.fixture
def fresh_url(expdb_url: str) -> Iterator[str]:
    with scratch_database(expdb_url, prefix="grace") as url:
        yield url


def test_concurrent_first_opens_stamp_the_database_once(fresh_url: str) -> None:
    for _round in range(2):  # a new database, then one at head that all open again
        at = time.time() + 2.5  # after every interpreter has imported Galileo
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, fresh_url, str(at)],
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(PROCESSES)]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * PROCESSES, "\n".join(errors)
        engine = sa.create_engine(fresh_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        finally:
            engine.dispose()
        assert [r[0] for r in rows] == [head()]


def test_a_database_stamped_twice_gets_one_clear_sentence(sqlite_url: str) -> None:
    from galileo.errors import StorageError
    from galileo.storage.expdb import ExpDB

    ExpDB(sqlite_url).close()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
    engine.dispose()
    with pytest.raises(StorageError, match=r"several schema revisions \(.*0001.*\)"):
        ExpDB(sqlite_url)
