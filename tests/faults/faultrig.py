"""The fault rig: real parts a fault can hit, each killable and restartable.

* :class:`RedisServer` -- ``redis-server --port N --save '' --appendonly no`` in a temp dir, so a
  SIGKILL and restart gives an EMPTY Redis (as in most labs);
* :class:`Target` -- an HTTP/1.1 keep-alive server on a loopback port that counts requests per
  path and can be taken down (listener and open connections closed) or slowed;
* :class:`Rig` -- the above plus ``galileo worker`` / ``galileo recorder`` / ``galileo runner``
  subprocesses (``galileo.localenv.ProcessGroup``) on an SQLite expdb, and a ``Galileo``.

Used by the fault tests (``tests/faults``) and by ``benchmarks/faults.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from galileo import bus
from galileo.control import Galileo
from galileo.localenv import ProcessGroup, free_port, wait_for_port
from galileo.settings import Settings

POLL_S = 0.02


def wait(predicate: Callable[[], object], timeout_s: float, what: str) -> float:
    """Poll until ``predicate()`` is true; return the seconds it took (AssertionError after
    ``timeout_s``)."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 >= timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)
    return time.monotonic() - t0


# ---------------------------------------------------------------------- Redis
class RedisServer:
    """A redis-server we own: kill it, start it again empty on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("redis-server") or bus.redis_server_binary()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - closed right after Popen
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for_port("127.0.0.1", self.port, 10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---------------------------------------------------------------------- target
class Target:
    """A counting HTTP/1.1 server on its own event loop thread (``hits[path]``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits: Counter[str] = Counter()
        self.last_hit: dict[str, float] = {}  # path -> monotonic time of the newest request
        self.delay_s = 0.0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def up(self) -> None:
        self._call(self._up())

    def down(self) -> None:
        """Close the listener and every open connection: clients see refusals/resets."""
        self._call(self._down())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def count(self, prefix: str) -> int:
        return sum(n for p, n in list(self.hits.items()) if p.startswith(prefix))

    def idle_for(self, prefix: str) -> float:
        """Seconds since the last request whose path starts with ``prefix``."""
        times = [t for p, t in list(self.last_hit.items()) if p.startswith(prefix)]
        return time.monotonic() - max(times) if times else float("inf")

    async def _up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                self.hits[path] += 1
                self.last_hit[path] = time.monotonic()
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                IndexError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


# ---------------------------------------------------------------------- the rig
class Rig:
    """Redis, target, workers, recorder (and runner) for one scenario; ``close()`` removes all."""

    def __init__(self, workdir: Path, **extra_env: str) -> None:
        self.dir = workdir
        self.redis = RedisServer(workdir / "redis")
        self.redis.start()
        self.target = Target()
        self.target.up()
        self.db_path = workdir / "expdb.sqlite"
        self.settings = Settings.from_env({
            "galileo_redis_url": self.redis.url,
            "galileo_namespace": "faults-" + uuid.uuid4().hex[:8],
            "galileo_data_dir": str(workdir / "data"),
            "galileo_expdb_url": f"sqlite:///{self.db_path}",
            "galileo_log_level": "INFO",
            **extra_env,
        })
        self.procs = ProcessGroup(self.settings, workdir / "logs")
        self.g = Galileo.from_settings(self.settings)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.procs.stop_all()
        with contextlib.suppress(Exception):
            self.g.close()
        self.target.close()
        self.redis.stop()

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ parts
    def worker(self, name: str) -> None:
        self.procs.start(name, ["worker", "--name", name, "--processes", "1"])

    def recorder(self, name: str = "recorder", *args: str) -> None:
        self.procs.start(name, ["recorder", "--consumer", name, "--claim-idle", "1",
                                "--report-every", "1", *args])

    def wait_workers(self, *names: str, timeout_s: float = 30) -> None:
        wait(lambda: {w.name for w in self.g.workers()} >= set(names), timeout_s,
             f"workers {names}")

    def wait_keeper(self, timeout_s: float = 60) -> None:
        """Until the recorder's watchdog runs: it set the epoch, then took two snapshots."""
        wait(lambda: self.g.redis.exists(self.g.keys.epoch), timeout_s, "the state keeper")
        time.sleep(1.2)

    def log(self, name: str) -> str:
        path = self.procs.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, name: str) -> None:
        self.procs.stop(name, signal.SIGKILL)

    # ------------------------------------------------------------------ the record
    def rows(self, where: str = "1=1", args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Query the expdb's traces directly (SQLite, read-only)."""
        return self.query(f"SELECT request_id, exp_id, group_id, worker, status, error "
                           f"FROM traces WHERE {where}", args)

    def query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        except sqlite3.OperationalError:  # no recorder created it yet
            return []
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []
        finally:
            conn.close()

    def recorded(self, gids: list[str]) -> int:
        marks = ",".join("?" * len(gids))
        return len(self.rows(f"group_id IN ({marks})", tuple(gids)))

    def events(self, kind: str) -> list[tuple[Any, ...]]:
        return self.query("SELECT exp_id, name, ts_ns FROM events WHERE kind = ?", (kind,))
