"""The telemetry agent against the real Redis: units, timestamps, windows, seed topics, control."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
import redis

from galileo.protocol import (
    Keys,
    TelemetryBatch,
    TelemetrySample,
    decode_telemetry_batch,
    format_telem_payload,
    parse_telem_payload,
    parse_telem_topic,
)
from galileo.settings import Settings
from galileo.telemetry import Agent, Telemd
from waiting import until

DEADLINE_S = 10.0


def busy(seconds: float) -> None:
    """Burn CPU for ``seconds`` (gives windowed counters something to measure)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))


def batches(client: redis.Redis, keys: Keys) -> list[TelemetryBatch]:
    return [decode_telemetry_batch(f[b"t"]) for _, f in client.xrange(keys.telemetry)]


def by_key(samples: list[TelemetrySample]) -> dict[tuple[str, str], TelemetrySample]:
    return {(s.metric, s.subsystem): s for s in samples}


def test_seed_payload_is_exact_to_the_microsecond() -> None:
    # the Go telemd printed 1700000000.1 for .000001 s; ours keeps all six digits
    assert format_telem_payload(1_700_000_000_000_001_999, 2.5) == "1700000000.000001 2.5"
    assert parse_telem_payload(b"1700000000.000001 2.5") == (1_700_000_000_000_001_000, 2.5)
    assert parse_telem_payload("1700000000 7") == (1_700_000_000_000_000_000, 7.0)
    assert parse_telem_topic("telem/n1/cgrp_cpu/a/b") == ("n1", "cgrp_cpu", "a/b")
    assert parse_telem_topic(b"telem/n1/load1") == ("n1", "load1", "")
    for bad in ("1.x 3", "3", "-1.5 2"):
        with pytest.raises(ValueError):
            parse_telem_payload(bad)
    with pytest.raises(ValueError):
        parse_telem_topic("other/n1/cpu")


def test_samples_have_units_timestamps_and_abutting_windows(
        make_agent: Callable[..., Agent], redis_client: redis.Redis, settings: Settings,
        node: str) -> None:
    keys = Keys(settings.namespace)
    agent = make_agent(instruments=["cpu", "load", "procs", "ram", "net", "disk", "psi", "gpu"],
                       per_core=True)
    try:
        import pynvml  # noqa: F401
    except ImportError:
        assert "gpu" not in agent.instrument_names  # skipped cleanly without NVML
    sub = redis_client.pubsub(ignore_subscribe_messages=True)
    sub.psubscribe(f"telem/{node}/*")
    try:
        before = time.time_ns()
        assert agent.tick(force=True) > 0  # gauges now, counters take their baseline
        busy(0.2)
        agent.tick(force=True)
        busy(0.1)
        agent.tick(force=True)
        after = time.time_ns()
        got = batches(redis_client, keys)
        assert len(got) == 3 and all(b.node == node and b.exp_id is None for b in got)
        first, second, third = (by_key(b.samples) for b in got)
        for batch in got:
            assert len({s.ts_ns for s in batch.samples}) == 1  # one timestamp per tick
            assert before <= batch.samples[0].ts_ns <= after
        t1, t2, t3 = (b.samples[0].ts_ns for b in got)
        assert ("cpu", "") not in first and ("ram", "used") in first  # no window yet
        cpu2, cpu3 = second["cpu", ""], third["cpu", ""]
        assert cpu2.window_ns == t2 - t1 and cpu3.window_ns == t3 - t2  # windows abut exactly
        assert cpu3.ts_ns - cpu3.window_ns == cpu2.ts_ns
        assert 0.0 < cpu2.value <= 100.0
        cores = [s for k, s in second.items() if k[0] == "cpu" and k[1]]
        assert len(cores) == psutil.cpu_count() and all(0 <= s.value <= 100 for s in cores)
        total = psutil.virtual_memory().total
        ram = first["ram", "used"].value + first["ram", "available"].value
        assert ram == pytest.approx(total, rel=0.01)
        assert first["ram", "used"].window_ns == 0
        assert first["procs", ""].value >= 1 and first["load1", ""].value >= 0
        for (metric, _), s in second.items():
            if metric in ("rx", "tx", "read", "write"):
                assert s.value >= 0 and s.window_ns == t2 - t1  # bytes/s
            if metric.startswith("psi_"):
                assert 0 <= s.value <= 100.0 * 1.01
        # the same samples on the seed topics, µs-exact
        seen: dict[str, list[str]] = {}
        deadline = time.monotonic() + DEADLINE_S
        while ("ram/used" not in seen or len(seen.get("cpu", [])) < 2) and \
                time.monotonic() < deadline:
            msg = sub.get_message(timeout=1.0)
            if msg:
                n, metric, subsystem = parse_telem_topic(msg["channel"])
                assert n == node
                key = f"{metric}/{subsystem}" if subsystem else metric
                seen.setdefault(key, []).append(msg["data"].decode())
        assert seen["ram/used"][0] == format_telem_payload(t1, first["ram", "used"].value)
        ts, value = parse_telem_payload(seen["cpu"][0])
        assert ts == t2 // 1000 * 1000 and value == cpu2.value
    finally:
        sub.close()


def _run(agent: Agent) -> tuple[threading.Event, threading.Thread]:
    agent.register()
    agent.subscribe()
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_pause_unpause_and_info_through_the_control_topic(
        make_agent: Callable[..., Agent], redis_client: redis.Redis, settings: Settings,
        node: str) -> None:
    keys = Keys(settings.namespace)
    agent = make_agent(instruments=["cpu", "ram"], period_s=0.05)
    stop, thread = _run(agent)
    telemd = Telemd(redis_client, keys)
    try:
        assert telemd.nodes() == [node]
        info = telemd.info(node)
        assert {"arch", "boot", "hostname", "ram", "cpus", "disk", "net"} <= set(info)
        assert int(info["cpus"]) == psutil.cpu_count() and int(info["ram"]) > 0
        assert redis_client.xread({keys.telemetry: "0"}, block=5000)
        assert telemd.pause() == [node]  # returns once the agent acknowledged
        assert agent.paused
        length = redis_client.xlen(keys.telemetry)
        paused_ticks = agent.stats.paused_ticks
        until(lambda: agent.stats.paused_ticks >= paused_ticks + 3, DEADLINE_S, "paused ticks")
        assert redis_client.xlen(keys.telemetry) == length  # nothing shipped while paused
        last_id = redis_client.xrevrange(keys.telemetry, count=1)[0][0]
        unpaused_at = time.time_ns()
        telemd.unpause(node)
        windowed: list[TelemetrySample] = []
        deadline = time.monotonic() + DEADLINE_S
        while not windowed and time.monotonic() < deadline:
            for _, entries in redis_client.xread({keys.telemetry: last_id}, block=2000) or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    windowed += [s for s in decode_telemetry_batch(fields[b"t"]).samples
                                 if s.window_ns]
        assert windowed, "no windowed sample after unpause"
        assert all(s.ts_ns - s.window_ns >= unpaused_at for s in windowed)  # none spans the pause
        redis_client.delete(Keys.telemd_info(node))
        telemd.refresh_info(node)
        assert telemd.info(node)["agent"] == "galileo"
        latest = telemd.latest(5)
        assert latest and {s.node for s in latest} == {node}
    finally:
        stop.set()
        thread.join(DEADLINE_S)
    assert not thread.is_alive()


@pytest.fixture
def busy_process() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield proc
    proc.kill()
    proc.wait()


def test_named_process_cpu_and_memory(make_agent: Callable[..., Agent],
                                      busy_process: subprocess.Popen[bytes]) -> None:
    agent = make_agent(instruments=["proc"], processes={"spin": busy_process.pid},
                       publish_topics=False)
    proc = next(s.instrument for s in agent._schedule if s.instrument.name == "proc")
    t0 = time.time_ns()
    proc.sample(t0)
    busy(0.3)  # the child spins meanwhile
    readings = {(m, s): (v, w) for m, s, v, w in proc.sample(time.time_ns())}
    cpu, window = readings["proc_cpu", "spin"]
    assert window > 0 and 5.0 < cpu <= 105.0  # percent of one core, shared with the test
    assert readings["proc_memory", "spin"][0] > 1_000_000


def test_each_instrument_keeps_its_own_period(make_agent: Callable[..., Agent],
                                              redis_client: redis.Redis,
                                              settings: Settings) -> None:
    agent = make_agent(instruments=["ram", "load"], period_s=1.0, periods={"ram": 0.5},
                       publish_topics=False)
    shipped = []
    for now in (100.0, 100.5, 101.0, 101.5, 102.0, 104.7):  # monotonic seconds
        agent.tick(now)
        entries = redis_client.xrange(Keys(settings.namespace).telemetry)
        shipped.append(sorted({s.metric for s in decode_telemetry_batch(
            entries[-1][1][b"t"]).samples}) if entries else [])
        redis_client.delete(Keys(settings.namespace).telemetry)
    assert shipped == [["load1", "load5", "ram"], ["ram"], ["load1", "load5", "ram"], ["ram"],
                       ["load1", "load5", "ram"], ["load1", "load5", "ram"]]
    assert agent.next_due() == pytest.approx(105.2)  # a missed slot is skipped, not replayed
