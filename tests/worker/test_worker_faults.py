"""The worker under bus faults, as real processes: Redis unreachable from the start, Redis
restarted EMPTY mid-run, Redis gone at shutdown. One log line per state change, no traceback,
SIGTERM obeyed within 5 s in every state, children never orphaned, state re-registered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.protocol import (
    EventField,
    EventKind,
    Keys,
    decode_event,
    decode_group_info,
)
from galileo.settings import Settings
from redis_server import RedisServer, free_port
from waiting import until

GALILEO = str(Path(sys.executable).parent / "galileo")
SIGTERM_BUDGET_S = 5.0


class WorkerProcess:
    """``galileo worker`` as a subprocess; its output lines are collected as they come."""

    def __init__(self, url: str, namespace: str, name: str, processes: int) -> None:
        env = {**os.environ, "galileo_redis_url": url, "galileo_namespace": namespace,
               "galileo_log_level": "INFO"}
        self.proc = subprocess.Popen(
            [GALILEO, "worker", "--name", name, "--processes", str(processes)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def terminate(self) -> float:
        """SIGTERM it; seconds until it exited (killed if it overstays)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(SIGTERM_BUDGET_S + 5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        took = time.monotonic() - started
        self._reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return took

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    s = RedisServer(tmp_path).start()
    yield s
    s.stop()


def test_unreachable_redis_one_line_then_sigterm_in_time(namespace: str) -> None:
    port = free_port()  # nothing listens there
    w = WorkerProcess(f"redis://127.0.0.1:{port}/0", namespace, "w-nobus", processes=2)
    try:
        until(lambda: w.said("cannot reach Redis"), 60, "the worker to try Redis")
        children = psutil.Process(w.proc.pid).children(recursive=True)
        time.sleep(2.5)  # several reconnect attempts with backoff
    finally:
        took = w.terminate()
    assert w.proc.returncode == 0, w.output
    assert took <= SIGTERM_BUDGET_S, f"SIGTERM while connecting took {took:.1f} s"
    assert "Traceback" not in w.output, w.output
    outage = [line for line in w.lines if "cannot reach Redis" in line]
    assert len(outage) == 1, w.output  # logged once per state change, not per retry
    assert f"worker w-nobus: cannot reach Redis at 127.0.0.1:{port}: " in outage[0]
    assert len(children) >= 2
    _, alive = psutil.wait_procs(children, timeout=2)
    assert not alive, f"orphaned children: {alive}"


def test_worker_rejoins_an_empty_redis_and_stops_with_redis_gone(
        server: RedisServer, namespace: str, tmp_path: Path) -> None:
    settings = Settings.from_env({"galileo_redis_url": server.url, "galileo_namespace": namespace,
                                  "galileo_data_dir": str(tmp_path / "data")})
    keys = Keys(namespace)
    w = WorkerProcess(server.url, namespace, "w-rejoin", processes=2)
    g: Galileo | None = None
    try:
        client = bus.connect(settings)
        until(lambda: client.exists(keys.worker("w-rejoin")), 60, "the worker's registration")
        g = Galileo(settings)
        g.rtbl.set("api", "127.0.0.1:9")  # nothing answers: the test is about Redis
        group = g.spawn("api", 4, rps=20)
        server.restart()  # back EMPTY on the same port
        restarted = time.monotonic()
        until(lambda: client.sismember(keys.workers, "w-rejoin")
              and client.exists(keys.worker("w-rejoin")), 5, "re-registration within 5 s")
        registered_s = time.monotonic() - restarted
        until(lambda: client.hget(keys.group(group.gid), "info"), 5,
              "the group record re-created by its worker within 5 s")
        info = decode_group_info(client.hget(keys.group(group.gid), "info"))
        assert sorted(info.placement["w-rejoin"]) == sorted(group.clients)
        assert info.rps == pytest.approx(20) and info.service == "api"
        assert client.sismember(keys.groups, group.gid)
        events = [decode_event(f[EventField]) for _, f in client.xrange(keys.events)]
        rejoined = [e for e in events if e.kind == EventKind.WORKER_REREGISTERED]
        assert len(rejoined) == 1 and rejoined[0].name == "w-rejoin"
        assert rejoined[0].data["groups"] == [group.gid]
        assert registered_s <= 5
        server.kill()  # now stop it while Redis is gone (draining with no bus)
        until(lambda: w.said("cannot reach Redis"), 5, "the worker to notice")
    finally:
        if g is not None:
            g.close()
        took = w.terminate()
    assert took <= SIGTERM_BUDGET_S, f"SIGTERM with Redis gone took {took:.1f} s"
    assert "Traceback" not in w.output, w.output
    assert w.said("Redis lost this worker's registration") and w.said("with 1 group(s)")
