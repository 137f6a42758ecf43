"""A private ``redis-server`` for tests that stop, restart (empty) or lock down Redis.

Started on a free port in a temp dir, keeping nothing on disk (like most labs); ``restart()``
brings it back EMPTY on the same port; everything is killed on ``stop()``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from galileo import bus


def redis_server_binary() -> str:
    return shutil.which("redis-server") or bus.redis_server_binary()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path, config: str = "", tls: bool = False) -> None:
        self.dir = directory
        self.port = free_port()
        self.tls = tls
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        port_lines = (f"port 0\ntls-port {self.port}\n" if self.tls else f"port {self.port}\n")
        conf = self.dir / "redis.conf"
        conf.write_text(port_lines + 'bind 127.0.0.1\nsave ""\nappendonly no\n'
                        f"dir {self.dir}\n" + self.config)
        self.proc = subprocess.Popen([redis_server_binary(), str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start within 10 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        """Kill it and start it again on the same port: it comes back empty."""
        self.kill()
        self.start()

    stop = kill
