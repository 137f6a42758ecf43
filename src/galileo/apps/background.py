"""Run a server beside other code: in a background thread (tests, demos) or in its own process
(benchmarks pin load generator and target to different cores)."""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import NamedTuple

from galileo.apps.registry import DEFAULT_SERVICES, build_router
from galileo.apps.router import Router
from galileo.apps.server import READY_PREFIX, HttpServer, child_command
from galileo.errors import ConfigError
from galileo.net import bind_socket, new_event_loop

__all__ = ["BackgroundServer", "ServerProcess", "serve_background", "spawn_process",
           "start_in_thread"]

START_TIMEOUT_S = 60.0


class BackgroundServer(NamedTuple):
    """Where a background server listens, and how to stop it (unpacks as ``host, port, stop``)."""

    host: str
    port: int
    stop: Callable[[], None]

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"


def start_in_thread(
    services: Sequence[str] | Router = DEFAULT_SERVICES, host: str = "127.0.0.1", port: int = 0
) -> BackgroundServer:
    """Serve ``services`` (names, or a ready :class:`Router`) on a thread with its own loop."""
    router = services if isinstance(services, Router) else build_router(services)
    sock = bind_socket(host, port)
    bound_port = int(sock.getsockname()[1])
    started = threading.Event()
    errors: list[BaseException] = []
    holder: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}

    async def main() -> None:
        stop_event = asyncio.Event()
        server = HttpServer(router)
        try:
            await server.start(sock)
        except BaseException as e:
            errors.append(e)
            started.set()
            raise
        holder["ctl"] = (asyncio.get_running_loop(), stop_event)
        started.set()
        try:
            await stop_event.wait()
        finally:
            await server.close()

    def run() -> None:
        loop = new_event_loop()
        try:
            loop.run_until_complete(main())
        except BaseException as e:
            errors.append(e)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            sock.close()

    thread = threading.Thread(target=run, name=f"galileo-app-{bound_port}", daemon=True)
    thread.start()
    started.wait()
    if errors:
        thread.join()
        raise ConfigError(f"the background server could not start: {errors[0]}.")

    def stop() -> None:
        ctl = holder.pop("ctl", None)
        if ctl is not None:
            loop, stop_event = ctl
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stop_event.set)
        thread.join()

    return BackgroundServer(host, bound_port, stop)


@contextlib.contextmanager
def serve_background(
    services: Sequence[str] | Router = DEFAULT_SERVICES, host: str = "127.0.0.1", port: int = 0
) -> Iterator[BackgroundServer]:
    """``with serve_background(["echo"]) as srv: ... srv.url ...``; stopped on exit."""
    server = start_in_thread(services, host, port)
    try:
        yield server
    finally:
        server.stop()


class ServerProcess:
    """A server in its own process (``python -m galileo.apps``), ready when constructed."""

    def __init__(self, popen: subprocess.Popen[bytes], host: str, port: int) -> None:
        self.popen = popen
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGTERM, wait (then SIGKILL after ``timeout_s``); the exit code."""
        if self.popen.poll() is None:
            self.popen.terminate()
        try:
            code = self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        return code

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def spawn_process(
    services: Sequence[str] = DEFAULT_SERVICES,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    processes: int = 1,
    cpus: Sequence[int] | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> ServerProcess:
    """Start a server process (pinned to ``cpus`` if given); returns once it answers."""
    cmd = child_command(services, host, port, processes=processes, cpus=cpus)
    popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert popen.stdout is not None
    try:
        line = _read_line(popen.stdout, timeout_s)
    except BaseException:
        ServerProcess(popen, host, port).stop()
        raise
    if not line.startswith(READY_PREFIX):
        code = ServerProcess(popen, host, port).stop()
        raise ConfigError(f"the server process exited (code {code}) before it was ready.")
    bound = int(line.rsplit("http://", 1)[1].split()[0].rsplit(":", 1)[1])
    return ServerProcess(popen, host, bound)


def _read_line(stream: object, timeout_s: float) -> str:
    """One line from a subprocess pipe, or a :class:`ConfigError` after ``timeout_s``."""
    import io

    assert isinstance(stream, io.BufferedReader)
    deadline = time.monotonic() + timeout_s
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise ConfigError(f"the server process was not ready within {timeout_s:g} s.")
            chunk = stream.read1(4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
