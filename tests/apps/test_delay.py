"""``galileo app serve --delay/--jitter``: answers wait on the loop's timer, not blocking it."""

from __future__ import annotations

import http.client
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from galileo.apps import serve_background
from galileo.apps.delay import DelayedRouter, ResponseDelay
from galileo.apps.registry import build_router
from galileo.apps.server import READY_PREFIX
from galileo.errors import ValidationError
from galileo.units import format_duration, parse_duration_s, parse_percent, parse_rate_bps

DELAY_S = 0.1


def _timed_post(port: int, path: str = "/echo") -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.connect()
        start = time.monotonic()
        conn.request("POST", path, body=b"ping")
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, time.monotonic() - start
    finally:
        conn.close()


def test_every_answer_waits_the_delay_but_concurrent_ones_overlap() -> None:
    router = DelayedRouter(build_router(["echo"]), ResponseDelay(DELAY_S))
    with serve_background(router) as server:
        status, body, took = _timed_post(server.port)
        assert (status, body) == (200, b"ping")
        assert took >= DELAY_S
        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:  # 8 connections at once: the delays overlap
            results = list(pool.map(lambda _: _timed_post(server.port), range(8)))
        wall = time.monotonic() - start
        assert all(r[0] == 200 and r[2] >= DELAY_S for r in results)
        assert wall < 4 * DELAY_S, f"8 delayed answers took {wall:.3f} s: the loop was blocked"
        _, _, health_took = _timed_post(server.port, "/health")  # probes are not delayed
        assert health_took < DELAY_S


def test_jitter_is_uniform_around_the_delay_and_never_negative() -> None:
    delay = ResponseDelay(0.010, 0.004, rng=random.Random(7))
    samples = [delay.sample() for _ in range(5000)]
    assert min(samples) >= 0.006 and max(samples) <= 0.014
    assert abs(sum(samples) / len(samples) - 0.010) < 0.0002
    wide = ResponseDelay(0.001, 0.005, rng=random.Random(7))
    assert min(wide.sample() for _ in range(1000)) == 0.0


def test_option_text_is_parsed_and_bad_values_are_one_sentence() -> None:
    assert ResponseDelay.parse("") is None
    parsed = ResponseDelay.parse("10ms", "2ms")
    assert parsed is not None and (parsed.delay_s, parsed.jitter_s) == (0.01, 0.002)
    for delay, jitter, words in (("10", "", "--delay '10' is not a duration"),
                                 ("fast", "", "--delay 'fast'"),
                                 ("", "2ms", "--jitter needs a --delay"),
                                 ("5ms", "-1ms", "--jitter '-1ms'")):
        with pytest.raises(ValidationError, match=words):
            ResponseDelay.parse(delay, jitter)


def test_units_round_trip_and_reject_what_tc_would_reject() -> None:
    assert parse_duration_s("500us", "d") == pytest.approx(0.0005)
    assert parse_duration_s("1.5s", "d") == 1.5
    assert format_duration(0.01) == "10ms" and format_duration(0.0005) == "500us"
    assert format_duration(2.0) == "2s" and format_duration(0.0) == "0ms"
    assert parse_percent("0.1%", "loss") == 0.1
    assert parse_rate_bps("100mbit", "rate") == 100_000_000
    assert parse_rate_bps("1mbps", "rate") == 8_000_000  # tc: bps are bytes per second
    for bad in ("0.1", "101%", "-1%"):
        with pytest.raises(ValidationError, match="percentage"):
            parse_percent(bad, "--loss")
    for bad in ("100", "1mb", "1kbit"):
        with pytest.raises(ValidationError, match="--rate"):
            parse_rate_bps(bad, "--rate")
    with pytest.raises(ValidationError, match="longer than"):
        parse_duration_s("4000s", "--delay")


def test_cli_serve_with_delay_and_a_bad_delay_exits_2() -> None:
    cmd = [sys.executable, "-m", "galileo.apps", "echo", "--port", "0", "--delay", "100ms"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(READY_PREFIX), proc.stderr.read() if proc.stderr else line
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        status, _, took = _timed_post(port)
        assert status == 200 and took >= DELAY_S
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    bad = subprocess.run([sys.executable, "-m", "galileo.cli.main", "app", "serve", "echo",
                          "--port", "0", "--delay", "soon"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --delay 'soon' is not a duration like 10ms, 500us or 1s."]
