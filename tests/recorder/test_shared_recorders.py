"""Two real recorder processes on one stream: they share the work, and when one is killed with
entries pending, the other claims them (XAUTOCLAIM) — every trace stored exactly once.

Real Redis, real ``galileo recorder`` processes, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import redis
from tests.recorder.test_recorder import traces
from tests.waiting import until

from galileo.errors import BusError
from galileo.localenv import ProcessGroup
from galileo.protocol import TRACE_BATCH_MAX, Keys, TraceBatch, TraceField, encode
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.storage.scratch import scratch_database

ENTRIES = 160  # of TRACE_BATCH_MAX traces each
TOTAL = ENTRIES * TRACE_BATCH_MAX
CLAIM_IDLE_S = 3.0  # above a pass's duration: only a dead recorder's entries are claimed


def _consumers(client: redis.Redis, keys: Keys) -> set[str]:
    try:
        info: Any = client.xinfo_consumers(keys.traces, Keys.RECORDER_GROUP)
    except BusError:  # no stream or group yet
        return set()
    return {c["name"].decode() if isinstance(c["name"], bytes) else c["name"] for c in info}


def _pending_of(client: redis.Redis, keys: Keys, consumer: str) -> set[bytes]:
    reply: Any = client.xpending_range(keys.traces, Keys.RECORDER_GROUP, min="-", max="+",
                                       count=ENTRIES, consumername=consumer)
    return {p["message_id"] for p in reply}


def _freeze_with_pending(client: redis.Redis, keys: Keys, pid: int, consumer: str) -> int:
    """SIGSTOP ``pid`` at a moment its consumer holds entries pending after it has already
    acknowledged some (so both recorders did part of the work); how many entries it holds."""
    seen: set[bytes] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        held = _pending_of(client, keys, consumer)
        if held and seen - held:  # an earlier read of its own is done: freeze it now
            os.kill(pid, signal.SIGSTOP)
            if held := _pending_of(client, keys, consumer):
                return len(held)
            os.kill(pid, signal.SIGCONT)  # it acknowledged in between: try again
        seen |= held
        time.sleep(0.001)
    raise AssertionError(f"{consumer} never held entries pending after a first batch")


def _final_stats(log: Path) -> dict[str, int]:
    """The counters a recorder logs when it stops (SIGTERM)."""
    line = [ln for ln in log.read_text().splitlines() if " stopped: RecorderStats(" in ln][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.split("RecorderStats", 1)[1])}


def test_two_recorders_share_a_stream_and_take_over_a_killed_ones_entries(
        settings: Settings, redis_client: redis.Redis, expdb_url: str, tmp_path: Path) -> None:
    keys = Keys(settings.namespace)
    with scratch_database(expdb_url, prefix="gtest") as url, ExpDB(url) as db:
        shared = settings.model_copy(update={"expdb_url": url})
        logs = tmp_path / "logs"
        with ProcessGroup(shared, logs) as procs:
            for name in ("ra", "rb"):
                procs.start(name, ["recorder", "--consumer", name, "--no-watchdog",
                                   "--claim-idle", str(CLAIM_IDLE_S), "--report-every", "60"])
            until(lambda: _consumers(redis_client, keys) >= {"ra", "rb"}, 60,
                  "both recorders to join the consumer group")
            pipe = redis_client.pipeline(transaction=False)
            for _ in range(ENTRIES):
                pipe.xadd(keys.traces, {TraceField: encode(
                    TraceBatch(worker="w1", traces=traces(TRACE_BATCH_MAX, exp_id="e1")))})
            pipe.execute()

            held = _freeze_with_pending(redis_client, keys, procs.procs["ra"].pid, "ra")
            procs.stop("ra", signal.SIGKILL)  # dies holding `held` entries, never acknowledged

            def all_stored() -> bool:
                return (db.count_traces("e1") == TOTAL and redis_client.xlen(keys.traces) == 0
                        and redis_client.xpending(keys.traces, Keys.RECORDER_GROUP)[
                            "pending"] == 0)

            until(all_stored, 90, f"all {TOTAL} traces stored and the stream empty")
            assert procs.stop("rb") == 0  # SIGTERM: stops cleanly and logs its counters
        rb = _final_stats(logs / "rb.log")
        assert db.count_traces() == TOTAL  # every trace once (request_id is the key)
    # the survivor claimed the dead one's entries (after CLAIM_IDLE_S), and only those twice
    assert re.search(r"claimed \d+ stale entries", (logs / "rb.log").read_text())
    assert held > 0 and rb["traces_duplicate"] <= held * TRACE_BATCH_MAX
    # shared: what the dead recorder had acknowledged was not read again by the survivor
    assert rb["traces_written"] > 0
    assert rb["traces_written"] + rb["traces_duplicate"] < TOTAL
