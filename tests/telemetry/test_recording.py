"""Telemetry through the recorder into the experiment database (real Redis, real databases)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from galileo.control import Galileo
from galileo.protocol import (
    Keys,
    TelemetryBatch,
    TelemetryField,
    TelemetrySample,
    encode,
    format_telem_payload,
)
from galileo.recorder import Recorder
from galileo.recorder.telemetry import TelemBridge
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.telemetry import Agent


@pytest.fixture
def expdb(expdb_url: str) -> Iterator[ExpDB]:
    from galileo.storage.scratch import scratch_database

    with scratch_database(expdb_url) as url:
        db = ExpDB(url)
        yield db
        db.close()


def test_samples_are_recorded_under_the_running_experiment(
        make_agent: Callable[..., Agent], settings: Settings, redis_client: redis.Redis,
        expdb: ExpDB, node: str) -> None:
    agent = make_agent(instruments=["cpu", "ram", "load"], publish_topics=False)
    agent.register()
    with Galileo(settings, redis_client) as g, Recorder(settings, expdb) as rec:
        agent.tick(force=True)  # before the experiment: no experiment id
        exp_id = g.experiment.start(name="telemetry")
        t_start = time.time_ns()
        agent.tick(force=True)
        agent.tick(force=True)
        g.experiment.stop()
        rec.drain()
    store = expdb
    rows = store.telemetry(exp_id)
    assert rows and {r["node"] for r in rows} == {node}
    assert {r["metric"] for r in rows} >= {"cpu", "ram", "load1", "load5"}
    assert all(r["ts_ns"] >= t_start for r in rows)
    cpu = [r for r in rows if r["metric"] == "cpu" and r["subsystem"] == ""]
    assert len(cpu) == 2 and all(0.0 <= r["value"] <= 100.0 for r in cpu)
    untagged = [r for r in store.telemetry() if r["exp_id"] is None]
    assert untagged and all(r["ts_ns"] < t_start for r in untagged)
    info = store.nodeinfo(exp_id)
    assert set(info) == {node}
    assert {"arch", "boot", "hostname", "ram", "cpus", "disk", "net"} <= set(info[node])


def test_window_tagging_and_replays_are_stored_once(
        settings: Settings, redis_client: redis.Redis, expdb: ExpDB) -> None:
    keys = Keys(settings.namespace)
    with Galileo(settings, redis_client) as g, Recorder(settings, expdb) as rec:
        exp_id = g.experiment.start()
        now = time.time_ns()
        sample = TelemetrySample(node="seed-node", metric="cpu", subsystem="", ts_ns=now,
                                 value=12.5, window_ns=1_000_000_000)
        entry = {TelemetryField: encode(TelemetryBatch(node="seed-node", exp_id=None,
                                                       samples=[sample]))}
        redis_client.xadd(keys.telemetry, entry)
        redis_client.xadd(keys.telemetry, entry)  # a replay of the same entry
        redis_client.xadd(keys.telemetry, {TelemetryField: b"\x93garbage"})  # malformed
        rec.drain()
        g.experiment.stop()
        assert rec.stats.malformed == 1
    rows = expdb.telemetry(exp_id, node="seed-node")
    assert [(r["metric"], r["ts_ns"], r["value"]) for r in rows] == [("cpu", now, 12.5)]


def test_seed_telemd_topics_are_bridged(settings: Settings, redis_client: redis.Redis,
                                        sqlite_url: str, node: str) -> None:
    keys = Keys(settings.namespace)
    go_node = "go-" + node
    bridge = TelemBridge(settings)
    try:
        bridge.subscribe()
        redis_client.hset(keys.telemd_info(node), mapping={"agent": "galileo"})  # ours: skipped
        ts = 1_700_000_000_000_001_000
        redis_client.publish(f"telem/{go_node}/cpu", format_telem_payload(ts, 42.0))
        redis_client.publish(f"telem/{go_node}/rx/eth0", f"{ts / 1e9:.6f} 1000")
        redis_client.publish(f"telem/{go_node}/ram", "not a payload")
        redis_client.publish(f"telem/{node}/cpu", format_telem_payload(ts, 1.0))
        forwarded = 0
        deadline = time.monotonic() + 10
        while forwarded < 2 and time.monotonic() < deadline:
            forwarded += bridge.pump(0.2)
        assert forwarded == 2 and bridge.malformed == 1
        assert go_node.encode() in redis_client.smembers(keys.telemd_nodes)
    finally:
        bridge.close()
        redis_client.delete(keys.telemd_info(node))
    with ExpDB(sqlite_url) as db, Recorder(settings, db) as rec:
        rec.drain()
        rows = db.telemetry()
    assert sorted((r["node"], r["metric"], r["subsystem"], r["ts_ns"], r["value"])
                  for r in rows) == [(go_node, "cpu", "", ts, 42.0),
                                     (go_node, "rx", "eth0", ts, 1000.0)]
