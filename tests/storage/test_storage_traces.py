"""Trace and event rows on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from galileo.errors import StorageError
from galileo.protocol import Event, EventKind, Trace
from galileo.storage import ExpDB
from galileo.storage.traces import trace_problem


def make_trace(i: int, exp_id: str | None = "exp-1", **over: object) -> Trace:
    t0 = 1_700_000_000_000_000_000
    values: dict[str, object] = dict(
        request_id=uuid.uuid4().hex, exp_id=exp_id, group_id="g1", client_id=f"c{i}",
        worker="w1", service="svc", host="10.0.0.1:8080", method="GET", path=f"/item/{i}",
        intended_ns=t0 + i * 1000, sent_ns=t0 + i * 1000 + 7, done_ns=t0 + i * 1000 + 900,
        status=200, error="", bytes_received=128)
    values.update(over)
    return Trace(**values)  # type: ignore[arg-type]


def test_insert_and_read_back_all_columns(db: ExpDB) -> None:
    tricky = make_trace(0, path="/a'b\"c\\d%s%%?x=1\n\t\u00e9\u6f22", error="timeout",
                        status=0, bytes_received=2**40, host="[::1]:80")
    batch = [tricky] + [make_trace(i) for i in range(1, 50)]
    assert db.insert_traces(batch) == 50
    rows = db.traces("exp-1")
    assert len(rows) == 50
    assert rows[0] == {f: getattr(tricky, f) for f in Trace.__struct_fields__}
    assert [r["request_id"] for r in rows] == [t.request_id for t in batch]  # by sent_ns


def test_duplicates_are_ignored_and_not_counted(db: ExpDB) -> None:
    batch = [make_trace(i) for i in range(20)]
    assert db.insert_traces(batch[:10]) == 10
    assert db.insert_traces(batch) == 10  # only the 10 new ones
    assert db.insert_traces(batch) == 0
    assert db.insert_traces(batch[:1] * 3) == 0  # duplicates inside one batch
    assert db.count_traces() == 20


def test_large_batch_in_one_call(db: ExpDB) -> None:
    batch = [make_trace(i) for i in range(5000)]
    assert db.insert_traces(batch) == 5000
    assert db.count_traces("exp-1") == 5000


def test_filter_count_limit_offset(db: ExpDB) -> None:
    db.insert_traces([make_trace(i, exp_id="a") for i in range(5)]
                     + [make_trace(i, exp_id=None) for i in range(3)]
                     + [make_trace(i, exp_id="b") for i in range(2)])
    assert (db.count_traces(), db.count_traces("a"), db.count_traces("b")) == (10, 5, 2)
    assert db.count_traces("missing") == 0
    page = db.traces("a", limit=2, offset=1)
    assert [r["client_id"] for r in page] == ["c1", "c2"]
    assert len(db.traces(offset=8)) == 2


def test_events_round_trip_and_replay_is_ignored(db: ExpDB) -> None:
    ts = time.time_ns()
    events = [Event(kind=EventKind.EXPERIMENT_START, ts_ns=ts, exp_id="e1", name="run",
                    data={"name": "run", "creator": "me", "nested": {"w": [1, 2.5]}}),
              Event(kind=EventKind.ROUTING_SET, ts_ns=ts + 1, name="svc")]
    assert db.insert_events(events, ["s/1-0", "s/2-0"]) == 2
    assert db.insert_events(events, ["s/1-0", "s/2-0"]) == 0
    rows = db.events()
    assert [(r["kind"], r["exp_id"], r["name"]) for r in rows] == [
        ("experiment_start", "e1", "run"), ("routing_set", None, "svc")]
    assert rows[0]["data"]["nested"] == {"w": [1, 2.5]}
    assert len(db.events("e1")) == 1


def test_trace_problem_names_what_does_not_fit() -> None:
    assert trace_problem(make_trace(0)) is None
    assert trace_problem(make_trace(0, request_id="x" * 33)) == (
        "request_id longer than 32 characters")
    assert trace_problem(make_trace(0, status=2**40)) == "status out of range"
    assert trace_problem(make_trace(0, request_id="")) == "empty request_id"


def test_unreachable_database_is_one_sentence_without_password() -> None:
    url = "postgresql+psycopg://u:secret@127.0.0.1:1/nope"
    with pytest.raises(StorageError) as info:
        ExpDB(url)
    msg = str(info.value)
    assert msg.startswith("cannot reach the experiment database at postgresql+psycopg://u:***@")
    assert "secret" not in msg and "\n" not in msg


def test_sqlite_creates_parent_dir_and_uses_wal(tmp_path: object) -> None:
    path = f"{tmp_path}/deep/er/expdb.sqlite"
    with ExpDB(f"sqlite:///{path}") as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert set(sa.inspect(conn).get_table_names()) >= {
            "experiments", "traces", "events", "telemetry", "nodeinfo"}
