"""The pipelined recorder (a writer thread beside the next read, on a database server): a write
that fails loses nothing and stores nothing twice, and the next pass picks up every entry."""

from __future__ import annotations

import pytest
import redis
from tests.recorder.test_recorder import pending, push, traces

from galileo.errors import StorageError
from galileo.protocol import Keys
from galileo.recorder import Recorder
from galileo.recorder._entries import Batch
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.storage.scratch import scratch_database

ENTRIES = 10
PER_ENTRY = 100


class FailsSecondWrite(Recorder):
    """The database refuses the second transaction (once)."""

    writes = 0

    def _write(self, batch: Batch) -> None:
        self.writes += 1
        if self.writes == 2:
            raise StorageError("the database went away")
        super()._write(batch)


@pytest.mark.parametrize("server", ["mysql", "postgresql"])
def test_a_failed_pipelined_write_is_retried_and_nothing_is_stored_twice(
        settings: Settings, redis_client: redis.Redis, server: str,
        request: pytest.FixtureRequest) -> None:
    keys = Keys(settings.namespace)
    for _ in range(ENTRIES):
        push(redis_client, keys, traces(PER_ENTRY, exp_id="e1"))
    base = str(request.getfixturevalue(f"{server}_url"))
    with scratch_database(base, prefix="gtest") as url, ExpDB(url) as db:
        rec = FailsSecondWrite(settings, db, consumer="r1", read_count=2)
        assert rec._pipelined
        with pytest.raises(StorageError, match="went away"):
            rec.drain()
        assert rec._inflight is None  # nothing left running after the error
        assert db.count_traces() == 2 * PER_ENTRY  # the first read only
        assert pending(redis_client, keys) >= 2  # the failed read (and the one beside it)
        assert rec.drain() == ENTRIES - 2  # own pending entries first, then the rest
        rec.close()
        assert db.count_traces("e1") == ENTRIES * PER_ENTRY
        assert rec.stats.traces_written == ENTRIES * PER_ENTRY
        assert rec.stats.traces_duplicate == 0
    assert pending(redis_client, keys) == 0 and redis_client.xlen(keys.traces) == 0
