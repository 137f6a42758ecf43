"""The recorder backlog made visible: readings per stream, rates, the recorder's threshold
events, ``galileo status`` and ``galileo health recorder``. Real Redis, the real recorder."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from cliprocess import galileo_env
from galileo.protocol import EventKind, Keys, TraceBatch, TraceField, encode
from galileo.recorder import Recorder
from galileo.recorder.backlog import BacklogWatch, falling_behind, rates, read_stream
from galileo.settings import Settings
from galileo.storage import ExpDB


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.namespace)


def push(client: redis.Redis, keys: Keys, n: int, *, age_s: float = 0.0) -> None:
    payload = {TraceField: encode(TraceBatch(worker="w1", traces=[]))}
    for i in range(n):
        entry_id = f"{int((time.time() - age_s) * 1000)}-{i}" if age_s else "*"
        client.xadd(keys.traces, payload, id=entry_id)


def test_a_reading_counts_what_waits_and_how_old_it_is(settings: Settings, keys: Keys,
                                                       redis_client: redis.Redis) -> None:
    empty = read_stream(redis_client, "traces", keys.traces)
    assert (empty.entries, empty.oldest_age_s) == (0, None)
    push(redis_client, keys, 5, age_s=42)
    before = read_stream(redis_client, "traces", keys.traces)
    assert before.entries == before.undelivered == 5
    assert before.oldest_age_s == pytest.approx(42, abs=2)
    with ExpDB.from_settings(settings) as db, Recorder(settings, db, consumer="r") as rec:
        rec.drain()
    push(redis_client, keys, 3)
    after = read_stream(redis_client, "traces", keys.traces)
    assert after.entries == 3 and after.recorders == 1 and after.pending == 0
    assert after.oldest_age_s is not None and after.oldest_age_s < 2
    r = rates(before, after)
    dt = after.at_s - before.at_s
    assert r.arrival_per_s == pytest.approx(3 / dt) and r.ingest_per_s == pytest.approx(5 / dt)


def test_falling_behind_needs_growth_and_age() -> None:
    def reading(entries: int, age: float, at: float) -> object:
        from galileo.recorder.backlog import StreamBacklog
        return StreamBacklog("traces", "k", entries, 0, entries, age, entries, 1, 0.1, at)

    growing_old = [reading(10, 30, 0), reading(20, 31, 1), reading(30, 32, 2)]
    assert "falling behind" in (falling_behind(growing_old, 10) or "")  # type: ignore[arg-type]
    young = [reading(10, 1, 0), reading(20, 2, 1), reading(30, 3, 2)]
    assert falling_behind(young, 10) is None  # type: ignore[arg-type]
    draining = [reading(30, 30, 0), reading(20, 31, 1), reading(25, 32, 2)]
    assert falling_behind(draining, 10) is None  # type: ignore[arg-type]


def test_the_recorder_says_when_it_falls_behind_and_when_it_caught_up(
        settings: Settings, keys: Keys, redis_client: redis.Redis) -> None:
    watch = BacklogWatch(keys, cap_entries=10, interval_s=0)
    assert watch.check(redis_client) is None
    push(redis_client, keys, 6)  # 60 % of the cap
    high = watch.check(redis_client)
    assert high is not None and high.kind == EventKind.RECORDER_BACKLOG
    assert high.data["entries"] == 6 and high.data["cap_entries"] == 10
    assert watch.check(redis_client) is None  # once per crossing
    with ExpDB.from_settings(settings) as db, Recorder(settings, db, consumer="r") as rec:
        rec.drain()
    clear = watch.check(redis_client)
    assert clear is not None and clear.kind == EventKind.RECORDER_CAUGHT_UP


def test_the_recorder_loop_records_its_backlog_event(settings: Settings, keys: Keys,
                                                     redis_client: redis.Redis) -> None:
    push(redis_client, keys, 3, age_s=120)  # older than the alert age
    stop = threading.Event()
    with ExpDB.from_settings(settings) as db:
        rec = Recorder(settings, db, consumer="r")
        rec.watch.interval_s = 0
        thread = threading.Thread(target=rec.run, args=(stop,),
                                  kwargs={"block_ms": 50, "bridge_telem": False})
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                kinds = {e["kind"] for e in db.events()}
                if {"recorder_backlog", "recorder_caught_up"} <= kinds:
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join(10)
            rec.close()
        assert {"recorder_backlog", "recorder_caught_up"} <= kinds


@pytest.fixture
def growing(redis_client: redis.Redis, keys: Keys) -> Iterator[threading.Event]:
    """Traces arriving 20 entries/s behind an old one, with no recorder."""
    push(redis_client, keys, 1, age_s=60)
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.05):
            push(redis_client, keys, 1)

    thread = threading.Thread(target=feed)
    thread.start()
    yield stop
    stop.set()
    thread.join()


def _galileo(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "galileo", *args], env=galileo_env(settings),
                          capture_output=True, text=True, timeout=60)


def test_health_recorder_fails_while_the_backlog_grows(settings: Settings,
                                                      growing: threading.Event) -> None:
    done = _galileo(settings, "health", "recorder")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "falling behind" in done.stdout and "Traceback" not in done.stderr
    growing.set()
    time.sleep(0.2)
    settled = _galileo(settings, "health", "recorder")
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert "not growing" in settled.stdout


def test_status_shows_the_backlog(settings: Settings, growing: threading.Event) -> None:
    done = _galileo(settings, "status", "--json", "--window", "0.5")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    traces = status["streams"][0]
    assert traces["name"] == "traces" and traces["entries"] >= 2
    assert traces["oldest_age_s"] >= 59 and traces["arrival_per_s"] > 5
    assert status["trace_cap_entries"] == settings.trace_backlog_max_entries
    table = _galileo(settings, "status", "--window", "0.3")
    assert table.returncode == 0 and "recorder backlog" in table.stdout
    assert "galileo recorder" in table.stdout  # no recorder: says how to start one


def test_the_api_reports_the_backlog(settings: Settings, keys: Keys,
                                     redis_client: redis.Redis) -> None:
    from fastapi.testclient import TestClient

    from galileo.web import create_app

    push(redis_client, keys, 4, age_s=30)
    with TestClient(create_app(settings)) as api:
        body = api.get("/backlog", params={"window": 0.2}).json()
        assert api.get("/backlog", params={"window": 9}).status_code == 422
    traces = body["streams"][0]
    assert traces["name"] == "traces" and traces["entries"] == 4
    assert traces["oldest_age_s"] >= 29 and body["trace_cap_entries"] == 2000
    assert body["rates"][0]["arrival_per_s"] == 0.0


def test_the_live_dashboard_flags_a_recorder_that_falls_behind(
        settings: Settings, keys: Keys, redis_client: redis.Redis) -> None:
    from galileo.control import Galileo
    from galileo.web.dashboard.live import trace_backlog

    with Galileo(settings) as g:
        quiet = trace_backlog(g)
        assert quiet is not None and quiet["entries"] == 0 and not quiet["behind"]
        push(redis_client, keys, 2, age_s=45)  # older than the alert age
        behind = trace_backlog(g)
    assert behind is not None and behind["entries"] == 2 and behind["behind"]
    assert behind["cap"] == settings.trace_backlog_max_entries
