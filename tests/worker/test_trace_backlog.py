"""The bounded trace backlog: the traces stream never exceeds its cap, the worker keeps the rest
(memory, then a spill file) and delivers every trace once the recorder drains the stream. Real
Redis, the real recorder and a SQLite expdb; the spill tier on a real file."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from galileo import bus
from galileo.protocol import EventKind, Keys, Trace, decode_event
from galileo.recorder import Recorder
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.worker.spill import Backlog, BacklogLimits, SpillFile
from galileo.worker.traces import TraceShipping, TraceWriter

T0 = 1_700_000_000_000_000_000


def make_traces(n: int, start: int = 0) -> list[Trace]:
    return [Trace(request_id=uuid.uuid4().hex, exp_id=None, group_id="g1", client_id="c",
                  worker="w1", service="svc", host="h:80", method="GET", path="/",
                  intended_ns=T0 + start + i, sent_ns=T0 + start + i, done_ns=T0 + start + i + 9,
                  status=200) for i in range(n)]


# ---------------------------------------------------------------------- the local backlog
def test_backlog_is_first_in_first_out_across_memory_and_spill_file(tmp_path: Path) -> None:
    backlog = Backlog(BacklogLimits(memory_bytes=30, spill_dir=tmp_path, spill_bytes=10_000), "w")
    for i in range(10):
        assert backlog.push(f"batch-{i:02d}".encode(), i + 1)  # 8 bytes each: 3 fit in memory
    assert backlog.spilled == sum(range(4, 11)) and backlog.traces == 55
    order: list[bytes] = []
    while backlog:
        head = backlog.head(2)
        order += [data for data, _ in head]
        backlog.pop(len(head))
    assert order == [f"batch-{i:02d}".encode() for i in range(10)]
    assert backlog.traces == 0 and backlog.dropped == 0
    backlog.close()
    assert not list((tmp_path / "w").glob("*.spill"))  # a drained file is removed


def test_past_memory_and_spill_bound_batches_are_dropped_and_counted(tmp_path: Path) -> None:
    backlog = Backlog(BacklogLimits(memory_bytes=10, spill_dir=tmp_path, spill_bytes=20), "w")
    results = [backlog.push(b"x" * 8, 5) for _ in range(6)]  # 1 in memory, 2 on disk (16+8 hdr)
    assert results.count(False) == backlog.dropped // 5 and backlog.dropped > 0
    assert backlog.traces + backlog.dropped == 30
    no_spill = Backlog(BacklogLimits(memory_bytes=10, spill_dir=None), "w")
    assert no_spill.push(b"y" * 8, 1) and not no_spill.push(b"y" * 8, 1)
    assert no_spill.dropped == 1
    backlog.close()


def test_a_dead_processs_spill_file_is_adopted_and_delivered(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    orphan = SpillFile(tmp_path / "w" / "12345.spill")
    for i in range(3):
        orphan.append(f"old-{i}".encode(), 7)
    orphan._file.close()  # the process died: its lock is gone, the file stays
    backlog = Backlog(BacklogLimits(memory_bytes=1000, spill_dir=tmp_path), "w")
    assert backlog.adopt_orphans() == 21
    assert [d for d, _ in backlog.head(10)] == [b"old-0", b"old-1", b"old-2"]
    assert not (tmp_path / "w" / "12345.spill").exists()
    backlog.close()


def test_a_live_processs_spill_file_is_left_alone(tmp_path: Path) -> None:
    live = Backlog(BacklogLimits(memory_bytes=1, spill_dir=tmp_path), "w")
    live.push(b"a" * 5, 1)
    live.push(b"b" * 5, 1)  # spilled: the file is open and locked
    other = Backlog(BacklogLimits(memory_bytes=1000, spill_dir=tmp_path), "w")
    assert other.adopt_orphans() == 0
    live.close()
    other.close()


def test_unwritten_batches_are_kept_on_disk_at_shutdown(tmp_path: Path) -> None:
    backlog = Backlog(BacklogLimits(memory_bytes=1000, spill_dir=tmp_path), "w")
    backlog.push(b"kept", 4)
    assert backlog.close() == 0  # nothing lost
    heir = Backlog(BacklogLimits(memory_bytes=1000, spill_dir=tmp_path), "w")
    assert heir.adopt_orphans() == 4
    heir.close()


# ---------------------------------------------------------------------- with Redis + recorder
def _settings(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update=extra)


def test_the_stream_stays_under_its_cap_and_every_trace_arrives_after_the_recorder_returns(
        settings: Settings, redis_client: redis.Redis, tmp_path: Path) -> None:
    cap = 4
    shipping = TraceShipping(max_entries=cap, local=BacklogLimits(
        memory_bytes=40_000, spill_dir=tmp_path / "spill", spill_bytes=50 * 2**20))
    keys = Keys(settings.namespace)
    raw = redis_client
    sent: list[str] = []
    lengths: list[int] = []

    async def load_without_recorder() -> TraceWriter:
        client = bus.connect_async(settings)
        writer = TraceWriter(client, keys, "w1", shipping=shipping)
        writer.start()
        for second in range(20):  # 20 rounds of 1,000 traces: far past the cap
            batch = make_traces(1000, start=second * 1000)
            sent.extend(t.request_id for t in batch)
            for t in batch:
                writer.add(t)
            await asyncio.sleep(0.05)
            lengths.append(int(raw.xlen(keys.traces)))
        await asyncio.sleep(0.5)
        lengths.append(int(raw.xlen(keys.traces)))
        assert writer.spilled_total > 0, "the test must reach the spill tier"
        assert list((tmp_path / "spill" / "w1").glob("*.spill"))
        # the recorder returns: drain while the writer delivers its backlog
        with ExpDB.from_settings(settings) as db, Recorder(settings, db, consumer="r") as rec:
            deadline = time.monotonic() + 60  # wall clock: a loaded machine is slower
            while time.monotonic() < deadline:
                rec.run_once()
                lengths.append(int(raw.xlen(keys.traces)))
                if not writer.buffered and db.count_traces() >= len(sent):
                    break
                await asyncio.sleep(0.02)
            rec.drain()
        await writer.close()
        await client.aclose()
        return writer

    writer = asyncio.run(load_without_recorder())
    assert max(lengths) <= cap, f"stream exceeded its cap of {cap}: {max(lengths)}"
    with ExpDB.from_settings(settings) as db:
        stored = [t["request_id"] for t in db.traces()]
    assert len(stored) == len(set(stored)) == len(sent), "lost or duplicated traces"
    assert set(stored) == set(sent)
    assert writer.dropped == 0
    kinds = [decode_event(fields[b"e"]).kind
             for _, fields in raw.xrange(keys.events)]
    # events were recorded (and deleted from the stream) by the recorder: read them from the db
    with ExpDB.from_settings(settings) as db:
        stored_kinds = {e["kind"] for e in db.events()} | {k.value for k in kinds}
    assert {EventKind.TRACE_BACKLOG_FULL.value, EventKind.TRACE_SPILL.value} <= stored_kinds


def test_a_full_local_backlog_drops_counts_and_says_so(settings: Settings,
                                                       redis_client: redis.Redis) -> None:
    shipping = TraceShipping(max_entries=1, local=BacklogLimits(memory_bytes=30_000,
                                                                spill_dir=None))
    keys = Keys(settings.namespace)

    async def scenario() -> TraceWriter:
        client = bus.connect_async(settings)
        writer = TraceWriter(client, keys, "w1", shipping=shipping)
        for t in make_traces(5000):
            writer.add(t)
        await writer.flush()  # one entry fits the stream; memory holds a few; the rest dropped
        await writer.flush()  # sends the traces_dropped event
        writer._backlog.close()
        await client.aclose()
        return writer

    writer = asyncio.run(scenario())
    events = [decode_event(f[b"e"]) for _, f in redis_client.xrange(keys.events)]
    dropped = [e for e in events if e.kind == EventKind.TRACES_DROPPED]
    assert writer.dropped > 0
    assert dropped and dropped[-1].data["total"] == writer.dropped
    assert writer.written + writer.buffered + writer.dropped == 5000
