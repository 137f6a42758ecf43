"""The fast ingest paths (PostgreSQL ``COPY`` through a staging table, MariaDB multi-row
``INSERT`` sized by ``max_allowed_packet``, SQLite ``executemany``) keep the recorder's
guarantees on every backend: a trace delivered twice -- in a later batch or twice in one -- is
stored once, and a batch with a row the database refuses raises ``StorageError`` and leaves
nothing of itself (nor of its transaction) behind."""

from __future__ import annotations

import pytest
from tests.storage.test_storage_traces import make_trace

from galileo.errors import StorageError
from galileo.protocol import EventKind, new_event, trace_rows
from galileo.storage import ExpDB, _bulk


@pytest.mark.parametrize("method", ["bulk", "executemany"])
def test_a_duplicate_is_stored_once(db: ExpDB, method: str) -> None:
    first = [make_trace(i) for i in range(30)]
    with db.transaction() as tx:
        assert tx.insert_traces(first, method=method) == 30  # type: ignore[arg-type]
    again = [*first[:10], make_trace(100), make_trace(101)]
    again.append(again[-1])  # twice in the same batch as well
    with db.transaction() as tx:
        assert tx.insert_traces(again, method=method) == 2  # type: ignore[arg-type]
    rows = db.traces("exp-1")
    assert len(rows) == 32 == len({r["request_id"] for r in rows})


def test_a_refused_row_fails_the_batch_and_its_transaction(db: ExpDB) -> None:
    db.insert_traces([make_trace(i) for i in range(5)])
    bad = make_trace(99, done_ns=None)  # NOT NULL: refused by every backend
    with pytest.raises(StorageError, match=r"done_ns|NoneType|null|NULL"), \
            db.transaction() as tx:
        tx.insert_events([new_event(EventKind.EXPERIMENT_START, exp_id="exp-1")])
        tx.insert_traces([*(make_trace(i) for i in range(10, 20)), bad])
    assert db.count_traces() == 5
    assert db.events() == []
    assert db.insert_traces([make_trace(i) for i in range(10, 20)]) == 10  # nothing half-left


def _inserts(tx: object) -> int:
    """INSERT statements this MariaDB session has run."""
    conn = tx.conn  # type: ignore[attr-defined]
    return int(conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Com_insert'").one()[1])


def test_mariadb_statements_follow_the_packet_limit(db: ExpDB,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if db.dialect != "mysql":
        pytest.skip("MariaDB/MySQL only")
    batch = [make_trace(i) for i in range(200)]
    with db.transaction() as tx:
        packet = _bulk.mysql_statement_budget(tx.conn) * _bulk.MYSQL_PACKET_SHARE
        assert packet >= 1 << 20  # read from the server (16 MiB on Debian's MariaDB)
        before = _inserts(tx)
        assert tx.insert_traces(batch[:100]) == 100
        assert _inserts(tx) - before == 1  # the whole batch in one statement
        monkeypatch.setattr(_bulk, "MYSQL_PACKET_SHARE", packet // 5000)  # ~5,000 characters
        before = _inserts(tx)
        assert tx.insert_traces(batch + batch[:50]) == 100
        statements = _inserts(tx) - before
    row = len(_bulk._mysql_values(trace_rows(batch[:1])[0], _bulk._ESCAPE or []))
    assert statements >= 150 * row // 5000  # split by the budget
    assert db.count_traces() == 200
