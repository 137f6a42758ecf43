"""`galileo rtbl mirror-etcd` against a real etcd, read back with etcdctl: the keys Galileo 0.x's
load balancer watches follow every routing change, and come back after etcd restarts empty."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Etcd  # tests/interop/conftest.py
from galileo.control.galileo import Galileo
from galileo.interop.etcd import golb_weights
from galileo.settings import Settings
from waiting import until

ZONE = "main"
PREFIX = f"golb/function/{ZONE}/"


@pytest.fixture
def mirror(etcd: Etcd, settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {"PATH": "/usr/bin:/bin", "galileo_redis_url": settings.redis_connection_url(),
           "galileo_namespace": settings.namespace, "galileo_data_dir": str(tmp_path)}
    log = (tmp_path / "mirror.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "galileo.cli.main", "rtbl", "mirror-etcd",
                             "--endpoint", etcd.url, "--zone", ZONE], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _keys(etcd: Etcd) -> dict[str, object]:
    return etcd.get_prefix("golb/")


def test_set_change_unset_clear_and_restart(etcd: Etcd, mirror: subprocess.Popen[bytes],
                                            settings: Settings) -> None:
    g = Galileo.from_settings(settings)
    try:
        # a key of another zone is not the mirror's business and stays
        subprocess.run(["etcdctl", "--endpoints", etcd.url, "put", "golb/function/other/x",
                        '{"ips":[],"weights":[]}'], env={"ETCDCTL_API": "3"}, check=True,
                       capture_output=True)
        g.rtbl.set("echo", ["10.0.0.5:8080", "10.0.0.6:8080"], [0.5, 1.5])
        want = {"ips": ["10.0.0.5:8080", "10.0.0.6:8080"], "weights": [1, 3]}
        until(lambda: _keys(etcd).get(PREFIX + "echo") == want, 30, "echo in etcd (mirror up)")

        g.rtbl.set("classify", ["10.0.0.7:9000"])
        g.rtbl.set("echo", ["10.0.0.6:8080"], [2])
        until(lambda: _keys(etcd).get(PREFIX + "echo") == {"ips": ["10.0.0.6:8080"],
                                                           "weights": [1]}, 5, "echo changed")
        assert _keys(etcd)[PREFIX + "classify"] == {"ips": ["10.0.0.7:9000"], "weights": [1]}

        g.rtbl.remove("echo")
        until(lambda: PREFIX + "echo" not in _keys(etcd), 5, "echo deleted")
        assert PREFIX + "classify" in _keys(etcd)

        # etcd restarts with an empty data directory: everything is written again within 1 s
        etcd.restart(wipe=True)
        restarted = time.monotonic()
        until(lambda: PREFIX + "classify" in _keys(etcd), 5, "classify back after restart")
        assert time.monotonic() - restarted <= 1.0

        g.rtbl.set("echo", ["10.0.0.5:8080"])
        until(lambda: PREFIX + "echo" in _keys(etcd), 5, "echo back")
        g.rtbl.clear()
        until(lambda: not [k for k in _keys(etcd) if k.startswith(PREFIX)], 5, "all cleared")
    finally:
        g.close()
    assert mirror.poll() is None, "the mirror died"
    started = time.monotonic()
    mirror.send_signal(signal.SIGTERM)
    assert mirror.wait(10) == 0
    assert time.monotonic() - started < 5


def test_unreachable_etcd_is_retried_without_losing_the_table(
        etcd: Etcd, mirror: subprocess.Popen[bytes], settings: Settings, tmp_path: Path) -> None:
    g = Galileo.from_settings(settings)
    try:
        g.rtbl.set("classify", ["10.0.0.7:9000"])
        until(lambda: PREFIX + "classify" in _keys(etcd), 30, "the mirror running")
        etcd.stop()
        g.rtbl.set("echo", ["10.0.0.5:8080"], [1])
        time.sleep(1.5)  # the mirror meets a dead etcd, logs it, backs off
        etcd.start()
        until(lambda: PREFIX + "echo" in _keys(etcd), 10, "echo after etcd came up")
    finally:
        g.close()
    mirror.send_signal(signal.SIGTERM)
    mirror.wait(10)
    log = (tmp_path / "mirror.log").read_text()
    assert "Traceback" not in log
    assert log.count(f"etcd at {etcd.url} unreachable") == 1, log  # once per outage


def test_bad_endpoint_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "galileo.cli.main", "rtbl", "mirror-etcd",
                          "--endpoint", "etcd:2379"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "galileo_redis_url": "redis://127.0.0.1:1"},
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: etcd endpoint 'etcd:2379' must start with http:// or https://"]


def test_weights_exact_when_small_else_scaled() -> None:
    assert golb_weights([0.5, 1.5]).weights == [1, 3]
    assert golb_weights([1, 0, 2]).weights == [1, 0, 2]
    exact = golb_weights([0.25, 0.75])
    assert exact.exact and exact.weights == [1, 3]
    scaled = golb_weights([0.123457, 0.876543])  # 123457:876543 exactly: too large
    assert not scaled.exact
    assert max(scaled.weights) == 1000
    assert scaled.max_share_error < 0.001


def test_the_recorder_hosts_the_mirror_when_configured(etcd: Etcd, settings: Settings,
                                                        tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "galileo_redis_url": settings.redis_connection_url(),
           "galileo_namespace": settings.namespace, "galileo_data_dir": str(tmp_path),
           "galileo_etcd_mirror_endpoint": etcd.url, "galileo_etcd_mirror_zone": "edge"}
    with (tmp_path / "recorder.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "galileo.cli.main", "recorder",
                                 "--no-watchdog"], env=env, stdout=log, stderr=subprocess.STDOUT)
    g = Galileo.from_settings(settings)
    try:
        g.rtbl.set("echo", ["10.0.0.5:8080"], [1])
        until(lambda: _keys(etcd).get("golb/function/edge/echo") == {
            "ips": ["10.0.0.5:8080"], "weights": [1]}, 30, "echo mirrored by the recorder")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 5
    finally:
        g.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
