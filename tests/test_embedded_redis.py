"""The embedded Redis: started on demand, shared by local processes, stopped by command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from galileo import bus
from galileo.settings import Settings


def galileo(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    return subprocess.run([sys.executable, "-m", "galileo", *args], capture_output=True,
                          text=True, timeout=60,
                          env={**clean, "galileo_data_dir": str(data_dir), **env})


def test_start_status_stop(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert "not running" in galileo("redis", "status", data_dir=data).stdout
    assert galileo("redis", "start", data_dir=data).returncode == 0
    assert bus.embedded_redis_running(data)
    # another process with the same (empty) configuration meets the same server
    client = bus.connect(Settings.from_env({"galileo_data_dir": str(data)}))
    client.set("shared", "yes")
    other = redis.Redis(unix_socket_path=str(data / "redis.sock"))
    assert other.get("shared") == b"yes"
    other.close()
    client.close()
    assert "running" in galileo("redis", "status", data_dir=data).stdout
    assert "stopped" in galileo("redis", "stop", data_dir=data).stdout
    assert not bus.embedded_redis_running(data)


def test_configured_redis_is_not_managed(tmp_path: Path) -> None:
    result = galileo("redis", "stop", data_dir=tmp_path, galileo_redis_host="127.0.0.1")
    assert result.returncode == 2
    assert "no embedded Redis to manage" in result.stderr
    assert "Traceback" not in result.stderr
