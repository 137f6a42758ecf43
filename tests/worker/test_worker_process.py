from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from galileo.protocol import Keys
from galileo.settings import Settings

GALILEO = str(Path(sys.executable).parent / "galileo")


def start_worker(settings: Settings, processes: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "galileo_redis_url": settings.redis_connection_url(),
           "galileo_namespace": settings.namespace, "galileo_log_level": "INFO"}
    return subprocess.Popen([GALILEO, "worker", "--name", settings.worker_name,
                             "--processes", str(processes)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


def test_sigterm_deregisters(settings: Settings, redis_client: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    proc = start_worker(settings, processes=2)
    try:
        assert wait_for(lambda: redis_client.exists(keys.worker(settings.worker_name)), 20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert not redis_client.exists(keys.worker(settings.worker_name))
    assert not redis_client.sismember(keys.workers, settings.worker_name)


def test_sigkill_vanishes_within_ttl(settings: Settings, redis_client: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    proc = start_worker(settings, processes=1)
    try:
        assert wait_for(lambda: redis_client.exists(keys.worker(settings.worker_name)), 20)
        proc.kill()
        killed = time.monotonic()
        assert wait_for(lambda: not redis_client.exists(keys.worker(settings.worker_name)), 4)
        assert time.monotonic() - killed <= 3.2
    finally:
        proc.kill()
        proc.communicate()
