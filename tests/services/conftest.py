"""Services test rig: real node agents (``galileo node`` processes) and a real reconciler on the
test Redis, each agent with its own name, port range and cgroup; all stopped and removed after."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from svchelpers import AgentStarter, agent_env, need_cgroups, wait_until

from galileo.control.galileo import Galileo
from galileo.errors import ConfigError
from galileo.protocol import Keys
from galileo.services.reconciler import Reconciler
from galileo.settings import Settings
from galileo.testbed.cgroups import detect


@pytest.fixture
def start_agent(settings: Settings, tmp_path: Path) -> Iterator[AgentStarter]:
    """Start ``galileo node --name NAME`` (address 127.0.0.1, its own port range); returns the
    process once its heartbeat is in Redis. Every agent and its instances go at the end."""
    need_cgroups()
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    keys = Keys(settings.namespace)
    g = Galileo(settings)

    def start(name: str, *args: str, ports: str = "",
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        index = len(started)
        port_range = ports or f"{21000 + 100 * index + (os.getpid() % 50) * 1000 % 20000}-" \
                              f"{21099 + 100 * index + (os.getpid() % 50) * 1000 % 20000}"
        full = f"{name}-{settings.namespace[-6:]}"
        log = open(tmp_path / f"agent-{full}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "galileo", "node", "--name", full,
                                 "--address", "127.0.0.1", "--ports", port_range, *args],
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**agent_env(settings), **(env or {})},
                                start_new_session=True)
        log.close()
        started.append((full, proc))
        wait_until(lambda: g.redis.exists(keys.node(full)) or proc.poll() is not None, 30,
                   f"node agent {full}")
        assert proc.poll() is None, (tmp_path / f"agent-{full}.log").read_text()
        return proc

    yield start
    for full, proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with contextlib.suppress(ConfigError):
            detect().remove(f"galileo/node-{full}")
    g.close()


@pytest.fixture
def reconciler(settings: Settings) -> Iterator[Reconciler]:
    """A reconciler running in a thread for the test."""
    g = Galileo(settings)
    rec = Reconciler(g.redis, g.keys, ["svc_policies"])
    stop = threading.Event()
    thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
    thread.start()
    yield rec
    stop.set()
    thread.join(10)
    g.close()


@pytest.fixture
def g(settings: Settings) -> Iterator[Galileo]:
    with Galileo(settings) as client:
        yield client
