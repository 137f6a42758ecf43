"""``galileo lb haproxy`` against a real HAProxy (Debian package): weights, added/removed
servers, draining, and the weight mapping when HAProxy's integers cannot be exact."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.lb.http import connection, get
from tests.waiting import until

from galileo.lb.haproxy import HaproxySync, RuntimeApi, haproxy_weights, run_sync


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[tuple[RuntimeApi, int]]:
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists(
        "/usr/sbin/haproxy") else None)
    if binary is None:
        pytest.skip("haproxy is not installed (Debian package 'haproxy', see .ci/packages.txt)")
    sock, port = tmp_path / "admin.sock", _free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"""
global
    stats socket {sock} mode 600 level admin
    nbthread 1
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    server static1 127.0.0.1:1 weight 1 disabled
""")
    proc = subprocess.Popen([binary, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        api = RuntimeApi(str(sock))
        until(lambda: sock.exists() or proc.poll() is not None, 10, "HAProxy's socket")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield api, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _split(port: int, n: int) -> Counter[str]:
    names: Counter[str] = Counter()
    with connection(port) as conn:
        for _ in range(n):
            status, headers, _ = get(conn, "/")
            names[headers.get("x-backend", str(status))] += 1
    return names


def test_haproxy_follows_routing(haproxy, backends, routing, settings):
    api, port = haproxy
    a, b, c = backends("a"), backends("b"), backends("c")
    sync = HaproxySync(api, "be", "svc")
    routing.set("svc", [a.address, b.address], [0.5, 1.5])
    run_sync(settings, sync, once=True)
    assert sync.last_mapping is not None and sync.last_mapping.exact
    # the disabled static server is re-pointed first, then a server is added
    state = {s.endpoint: s for s in sync.servers()}
    assert state[a.address].weight == 1 and state[b.address].weight == 3
    assert _split(port, 40) == {"a": 10, "b": 30}

    routing.set("svc", [b.address, c.address], [1, 1])
    sent = run_sync(settings, sync, once=True)
    assert any(line.startswith("drain ") for line in sent), sent
    assert _split(port, 20) == {"b": 10, "c": 10}
    # the drained server has no sessions: the next pass retires it (maint; an added one: deleted)
    sent = run_sync(settings, sync, once=True)
    assert any(line.startswith("maint ") for line in sent), sent
    assert a.address not in {s.endpoint for s in sync.servers() if not s.in_maint}
    assert run_sync(settings, sync, once=True) == []  # converged: nothing more to send


def test_haproxy_sync_daemon_and_cli(haproxy, backends, routing, settings):
    api, port = haproxy
    a = backends("a")
    routing.set("svc", [a.address])
    env = {**os.environ, "galileo_redis_url": str(settings.redis_url),
           "galileo_namespace": settings.namespace}
    proc = subprocess.Popen([sys.executable, "-m", "galileo", "lb", "haproxy", "--socket",
                             api.address, "--backend", "be", "--service", "svc"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        until(lambda: _split(port, 1) == {"a": 1}, 10, "HAProxy to route to a")
        b = backends("b")
        routing.set("svc", [a.address, b.address], [1, 1000])  # beyond HAProxy's 0..256
        until(lambda: _split(port, 257) == {"a": 1, "b": 256}, 10, "the scaled weights")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0


def test_weight_mapping():
    exact = haproxy_weights([0.5, 1.5, 0.25])
    assert exact.weights == [2, 6, 1] and exact.exact and exact.describe() == "exact"
    scaled = haproxy_weights([1, 1000, 0])
    assert scaled.weights == [1, 256, 0] and not scaled.exact
    assert scaled.max_share_error == pytest.approx(abs(1 / 257 - 1 / 1001))
    assert "rounded" in scaled.describe() and "0..256" in scaled.describe()
