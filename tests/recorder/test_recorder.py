"""The recorder against the real Redis and real databases."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import redis

from galileo.errors import StorageError
from galileo.protocol import (
    Event,
    EventField,
    EventKind,
    Keys,
    Trace,
    TraceBatch,
    TraceField,
    encode,
    encode_trace_batch,
    new_event,
)
from galileo.protocol.trace_wire import TraceColumns
from galileo.recorder import Recorder
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus
from galileo.storage.scratch import scratch_database
from galileo.storage.traces import trace_row

T0 = 1_700_000_000_000_000_000


def traces(n: int, exp_id: str | None = None, sent_ns: int = T0) -> list[Trace]:
    return [Trace(request_id=uuid.uuid4().hex, exp_id=exp_id, group_id="g1", client_id=f"c{i}",
                  worker="w1", service="svc", host="h:80", method="GET", path="/",
                  intended_ns=sent_ns + i, sent_ns=sent_ns + i, done_ns=sent_ns + i + 500,
                  status=200) for i in range(n)]


def push(client: redis.Redis, keys: Keys, batch: list[Trace]) -> None:
    """As a worker sends traces: one entry, the batch in columns."""
    client.xadd(keys.traces, {TraceField: encode_trace_batch("w1", batch)})


def push_event(client: redis.Redis, keys: Keys, event: Event) -> None:
    client.xadd(keys.events, {EventField: encode(event)})


def pending(client: redis.Redis, keys: Keys) -> int:
    return sum(client.xpending(s, Keys.RECORDER_GROUP)["pending"]
               for s in (keys.traces, keys.events))


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.namespace)


@pytest.fixture
def expdb(settings: Settings) -> Iterator[ExpDB]:
    with ExpDB.from_settings(settings) as db:
        yield db


class KilledBeforeAck(Recorder):
    """A recorder that dies after committing, before acknowledging (the worst moment)."""

    def _acknowledge(self, client: redis.Redis, ids: dict[str, list[bytes]]) -> None:
        raise RuntimeError("killed")


def test_traces_become_rows_and_leave_the_stream(settings: Settings, keys: Keys,
                                                 redis_client: redis.Redis) -> None:
    for _ in range(30):
        push(redis_client, keys, traces(50, exp_id="e1"))
    with Recorder(settings, consumer="r1", read_count=7) as rec:
        assert rec.drain() == 30
        assert rec.expdb.count_traces("e1") == 1500
        assert rec.stats.traces_written == 1500
    assert redis_client.xlen(keys.traces) == 0 and pending(redis_client, keys) == 0


def test_killed_recorder_is_taken_over_without_duplicates(
        settings: Settings, keys: Keys, redis_client: redis.Redis, expdb_url: str) -> None:
    push_event(redis_client, keys, Event(kind=EventKind.EXPERIMENT_START, ts_ns=T0,
                                         exp_id="e1", data={"name": "n", "creator": "c"}))
    for _ in range(5):
        push(redis_client, keys, traces(100, exp_id="e1"))
    with scratch_database(expdb_url, prefix="gtest") as url, ExpDB(url) as db:
        dead = KilledBeforeAck(settings, db, consumer="dead")
        with pytest.raises(RuntimeError, match="killed"):
            dead.run_once()
        dead.close()
        assert db.count_traces() == 500 and pending(redis_client, keys) == 6
        for _ in range(2):
            push(redis_client, keys, traces(100, exp_id="e1"))
        with Recorder(settings, db, consumer="heir", claim_idle_s=0) as heir:
            assert heir.drain() == 8
            assert heir.stats.traces_duplicate == 500
        assert db.count_traces("e1") == 700
        assert len(db.events("e1")) == 1
        assert db.get_experiment("e1").status == ExperimentStatus.RUNNING  # type: ignore[union-attr]
    assert pending(redis_client, keys) == 0 and redis_client.xlen(keys.traces) == 0


def test_replayed_batch_is_not_duplicated(settings: Settings, keys: Keys,
                                          redis_client: redis.Redis, expdb: ExpDB) -> None:
    batch = traces(40)
    push(redis_client, keys, batch)
    push(redis_client, keys, batch)
    with Recorder(settings, expdb, consumer="r1") as rec:
        rec.drain()
        push(redis_client, keys, batch)
        rec.drain()
        assert (rec.stats.traces_written, rec.stats.traces_duplicate) == (40, 80)
    assert expdb.count_traces() == 40


def test_malformed_entries_are_skipped_counted_and_removed(
        settings: Settings, keys: Keys, redis_client: redis.Redis, expdb: ExpDB,
        caplog: pytest.LogCaptureFixture) -> None:
    raw_id: Any = redis_client.xadd(keys.traces, {TraceField: b"\x93not msgpack"})
    bad_id = raw_id.decode()
    redis_client.xadd(keys.traces, {b"other": b"1"})
    redis_client.xadd(keys.events, {EventField: encode({"kind": "nonsense", "ts_ns": 1})})
    long_id = traces(1)[0]
    long_id.request_id = "x" * 40  # does not fit the column: dropped, rest of batch kept
    push(redis_client, keys, [long_id, *traces(9)])
    with caplog.at_level(logging.WARNING), Recorder(settings, expdb, consumer="r1") as rec:
        assert rec.drain() == 4
        assert (rec.stats.malformed, rec.stats.dropped_traces) == (3, 1)
    assert expdb.count_traces() == 9
    assert bad_id in caplog.text and "request_id longer than 32" in caplog.text
    assert redis_client.xlen(keys.traces) == 0 and pending(redis_client, keys) == 0


def _columns_with(change: dict[str, Any]) -> bytes:
    """A column batch of 3 traces (strings: e1, g1, c0, c1, c2, w1, ...) with some elements
    replaced, by name."""
    raw = msgspec.msgpack.decode(encode_trace_batch("w1", traces(3, exp_id="e1")))
    for name, value in change.items():
        at = TraceColumns.__struct_fields__.index(name)
        raw[at] = value(raw[at]) if callable(value) else value
    return msgspec.msgpack.encode(raw)


MALFORMED_COLUMNS = {
    "index past the string table": {"group_id": [1, 1, 99]},
    "negative index": {"group_id": [1, 1, -1]},
    "columns of different lengths": {"sent_ns": [T0, T0]},
    "a null where the column cannot be null": {"strings": lambda t: ["e1", None, *t[2:]]},
    "another format": {"format": 3},
    "a string where a number belongs": {"status": ["200", 200, 200]},
}


def test_malformed_column_batches_are_skipped_and_the_rest_recorded(
        settings: Settings, keys: Keys, redis_client: redis.Redis, expdb: ExpDB,
        caplog: pytest.LogCaptureFixture) -> None:
    for change in MALFORMED_COLUMNS.values():
        redis_client.xadd(keys.traces, {TraceField: _columns_with(change)})
    push(redis_client, keys, traces(5))
    with caplog.at_level(logging.WARNING), Recorder(settings, expdb, consumer="r1") as rec:
        assert rec.drain() == len(MALFORMED_COLUMNS) + 1
        assert (rec.stats.malformed, rec.stats.traces_written) == (len(MALFORMED_COLUMNS), 5)
    assert expdb.count_traces() == 5
    assert caplog.text.count("skipping malformed entry") == len(MALFORMED_COLUMNS)
    assert redis_client.xlen(keys.traces) == 0 and pending(redis_client, keys) == 0


def test_batches_in_rows_from_an_older_worker_are_recorded_as_before(
        settings: Settings, keys: Keys, redis_client: redis.Redis, expdb: ExpDB) -> None:
    old, new = traces(7, exp_id="e1"), traces(5, exp_id="e1")
    redis_client.xadd(keys.traces, {TraceField: encode(TraceBatch(worker="w0", traces=old))})
    push(redis_client, keys, new)
    with Recorder(settings, expdb, consumer="r1") as rec:
        rec.drain()
    stored = {r["request_id"]: r for r in expdb.traces("e1")}
    assert stored == {t.request_id: trace_row(t) for t in old + new}


def test_events_track_the_experiment_and_traces_keep_their_send_time_tag(
        settings: Settings, keys: Keys, redis_client: redis.Redis, expdb: ExpDB) -> None:
    start, stop = T0 + 1_000_000, T0 + 9_000_000
    push(redis_client, keys, traces(3, sent_ns=T0))  # before the experiment: untagged
    push(redis_client, keys, traces(4, exp_id="e1", sent_ns=start + 10))
    push(redis_client, keys, traces(5, sent_ns=start + 100))  # untagged at send: stays so
    push(redis_client, keys, traces(2, sent_ns=stop + 1))  # after: untagged
    push_event(redis_client, keys, Event(kind=EventKind.EXPERIMENT_START, ts_ns=start,
                                         exp_id="e1", name="demo",
                                         data={"name": "demo", "creator": "bob"}))
    push_event(redis_client, keys, Event(kind=EventKind.ROUTING_SET, ts_ns=start + 5,
                                         name="svc", data={"hosts": ["a:1"]}))
    push_event(redis_client, keys, Event(kind=EventKind.EXPERIMENT_STOP, ts_ns=stop,
                                         exp_id="e1"))
    with Recorder(settings, expdb, consumer="r1") as rec:
        rec.drain()
        assert rec.stats.events_written == 3
    exp = expdb.get_experiment("e1")
    assert exp is not None
    assert (exp.name, exp.creator, exp.status) == ("demo", "bob", ExperimentStatus.FINISHED)
    assert (exp.start, exp.end) == (start / 1e9, stop / 1e9)
    # filed by the tag each trace carried, never by the experiment's time window
    assert expdb.count_traces("e1") == 4 and expdb.count_traces() == 14
    push(redis_client, keys, traces(3, exp_id="e2", sent_ns=start + 200))  # other exp, inside
    with Recorder(settings, expdb, consumer="r1") as rec:
        rec.drain()
    assert expdb.count_traces("e1") == 4 and expdb.count_traces("e2") == 3
    assert [e["kind"] for e in expdb.events()] == [
        "experiment_start", "routing_set", "experiment_stop"]


def test_an_event_written_twice_by_a_retried_xadd_is_stored_once(
        settings: Settings, keys: Keys, redis_client: redis.Redis, expdb: ExpDB) -> None:
    """A lost reply makes the bus retry an XADD that had landed: two entries, one event."""
    routed = new_event(EventKind.ROUTING_SET, name="svc", data={"hosts": ["a:1"]})
    other = new_event(EventKind.ROUTING_SET, name="svc", data={"hosts": ["a:1"]})
    legacy = Event(kind=EventKind.ROUTING_SET, ts_ns=T0, name="old")  # no id: by entry id
    for event in (routed, routed, other, legacy, legacy):
        push_event(redis_client, keys, event)
    with Recorder(settings, expdb, consumer="r1") as rec:
        rec.drain()
    assert sorted(e["name"] for e in expdb.events()) == ["old", "old", "svc", "svc"]
    with Recorder(settings, expdb, consumer="r2") as rec:  # a replay changes nothing
        redis_client.xgroup_setid(keys.events, Keys.RECORDER_GROUP, "0")
        rec.drain()
    assert len(expdb.events()) == 4


def test_unreachable_database_keeps_entries_pending_until_it_is_back(
        settings: Settings, keys: Keys, redis_client: redis.Redis, expdb: ExpDB) -> None:
    push(redis_client, keys, traces(10))
    down = settings.model_copy(update={"expdb_url": "postgresql+psycopg://u@127.0.0.1:1/x"})
    with Recorder(down, consumer="r1") as rec, pytest.raises(StorageError, match="cannot reach"):
        rec.run_once()
    assert pending(redis_client, keys) == 1 and redis_client.xlen(keys.traces) == 1
    with Recorder(settings, expdb, consumer="r1") as rec:  # same consumer: own pending first
        assert rec.drain() == 1
    assert expdb.count_traces() == 10 and pending(redis_client, keys) == 0


def test_run_records_until_stopped(settings: Settings, keys: Keys,
                                   redis_client: redis.Redis, expdb: ExpDB) -> None:
    stop = threading.Event()
    with Recorder(settings, expdb, consumer="r1") as rec:
        thread = threading.Thread(target=rec.run, args=(stop,), kwargs={"block_ms": 50})
        thread.start()
        push(redis_client, keys, traces(25))
        deadline = time.monotonic() + 10
        while expdb.count_traces() < 25 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and expdb.count_traces() == 25


def test_run_survives_unreachable_redis(settings: Settings, expdb: ExpDB,
                                        caplog: pytest.LogCaptureFixture) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    stop = threading.Event()
    with caplog.at_level(logging.WARNING), Recorder(down, expdb, consumer="r1") as rec:
        def stop_once_retrying() -> None:  # on a loaded machine the first retry may be late
            deadline = time.monotonic() + 20
            while "retrying" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()

        watcher = threading.Thread(target=stop_once_retrying)
        watcher.start()
        rec.run(stop)  # returns once stopped, having retried instead of crashing
        watcher.join()
    assert "cannot reach Redis at 127.0.0.1:1" in caplog.text
    assert "retrying" in caplog.text
