"""Galileo's small, fast HTTP/1.1 server: asyncio Protocol + ``httptools`` + uvloop when present.

* :class:`HttpServer` serves one :class:`Router` on one event loop (keep-alive, pipelining,
  Content-Length and chunked request bodies, 400 + close on malformed input).
* :func:`serve` is the blocking entry point of ``galileo app serve``: it builds the named services,
  listens, optionally runs ``processes - 1`` more copies of itself on the same port
  (``SO_REUSEPORT``; the kernel spreads connections), and exits cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence

from galileo.apps.connection import HttpProtocol
from galileo.apps.delay import DelayedRouter, ResponseDelay
from galileo.apps.router import Router
from galileo.errors import ConfigError
from galileo.localenv import await_ready_lines, stop_children
from galileo.net import bind_socket, new_event_loop

__all__ = ["HttpServer", "parse_cpus", "serve"]

log = logging.getLogger(__name__)

BACKLOG = 2048
READY_PREFIX = "galileo app: serving"
PARENT_ENV = "GALILEO_APPS_PARENT_PID"  # set for the extra processes of ``--processes N``
CHILD_READY_TIMEOUT_S = 60.0


class HttpServer:
    """Serves a :class:`Router` on the running loop; :meth:`close` also drops open connections."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._connections: set[HttpProtocol] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: HttpProtocol(self.router, self._connections), sock=sock, backlog=BACKLOG
        )

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "server not started"
        sockets: Sequence[socket.socket] = getattr(self._server, "sockets", None) or []
        host, port = sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for conn in list(self._connections):
            conn.close()
        await self._server.wait_closed()
        self._server = None


def serve(
    services: Sequence[str],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    processes: int = 1,
    cpus: Sequence[int] | None = None,
    reuse_port: bool = False,
    announce: Callable[[str], None] | None = None,
    delay: ResponseDelay | None = None,
) -> None:
    """Serve ``services`` until SIGTERM/SIGINT (blocking); ``announce`` gets the ready line;
    ``delay`` holds back every answer but ``/health``."""
    from galileo.apps.registry import build_router

    if processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {processes}.")
    _die_with_parent()
    _pin(cpus, 0, processes)
    router = build_router(services)
    if delay is not None:
        router = DelayedRouter(router, delay)
    sock = bind_socket(host, port, reuse_port=reuse_port or processes > 1)
    port = sock.getsockname()[1]
    children: list[subprocess.Popen[bytes]] = []
    loop = new_event_loop()
    try:
        children = _start_children(services, host, port, processes - 1, cpus, delay)
        url_host = f"[{host}]" if ":" in host else host
        plural = "es" if processes > 1 else ""
        line = (f"{READY_PREFIX} {', '.join(services)} on http://{url_host}:{port} "
                f"({processes} process{plural}, {type(loop).__module__.split('.')[0]})")
        loop.run_until_complete(_serve_until_signal(router, sock, line, announce))
    finally:
        stop_children(children)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        sock.close()


async def _serve_until_signal(
    router: Router, sock: socket.socket, line: str, announce: Callable[[str], None] | None
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = HttpServer(router)
    await server.start(sock)
    (announce or _print_flush)(line)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.close()


def _print_flush(line: str) -> None:
    print(line, flush=True)


def child_command(
    services: Iterable[str], host: str, port: int, *, processes: int = 1,
    cpus: Sequence[int] | None = None, reuse_port: bool = False,
    delay: ResponseDelay | None = None,
) -> list[str]:
    """The command line that runs a server in its own interpreter (``python -m galileo.apps``)."""
    cmd = [sys.executable, "-m", "galileo.apps", *services, "--host", host, "--port", str(port),
           "--processes", str(processes)]
    if cpus:
        cmd += ["--cpus", ",".join(str(c) for c in cpus)]
    if reuse_port:
        cmd.append("--reuse-port")
    if delay is not None:
        cmd += ["--delay", f"{delay.delay_s}s", "--jitter", f"{delay.jitter_s}s"]
    return cmd


def _start_children(
    services: Sequence[str], host: str, port: int, count: int, cpus: Sequence[int] | None,
    delay: ResponseDelay | None = None,
) -> list[subprocess.Popen[bytes]]:
    children: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(1, count + 1):
            pin = [cpus[i % len(cpus)]] if cpus else None
            cmd = child_command(services, host, port, cpus=pin, reuse_port=True, delay=delay)
            env = {**os.environ, PARENT_ENV: str(os.getpid())}
            children.append(
                subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
            )
        await_ready_lines(children, READY_PREFIX, "server")
    except BaseException:
        stop_children(children)
        raise
    return children



def parse_cpus(text: str) -> list[int] | None:
    """``"0,2"`` -> ``[0, 2]``; empty -> ``None``."""
    try:
        cpus = [int(c) for c in text.split(",") if c.strip()]
    except ValueError as e:
        raise ConfigError(f"--cpus {text!r} is not a comma-separated list of CPU numbers.") from e
    return cpus or None


def _die_with_parent() -> None:
    """In an extra server process: get SIGTERM when the parent dies, even by SIGKILL (Linux)."""
    parent = os.environ.pop(PARENT_ENV, "")
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if str(os.getppid()) != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _pin(cpus: Sequence[int] | None, index: int, processes: int) -> None:
    """Pin this process: to all ``cpus`` when alone, else to ``cpus[index % len]``."""
    if not cpus:
        return
    chosen = set(cpus) if processes == 1 else {cpus[index % len(cpus)]}
    try:
        os.sched_setaffinity(0, chosen)
    except (AttributeError, OSError) as e:
        raise ConfigError(f"cannot pin the server to CPUs {sorted(chosen)}: {e}.") from e
