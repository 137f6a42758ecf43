"""``galileo lb serve``: run the balancer until SIGTERM/SIGINT.

With ``processes > 1`` the first process starts ``processes - 1`` copies of itself
(``python -m galileo.lb <options as JSON>``) listening on the same port (``SO_REUSEPORT``: the
kernel spreads connections); each copy follows the bus on its own, so a routing change or policy
switch reaches every process within one pub/sub round trip. Copies die with the first one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import msgspec

from galileo.errors import ConfigError
from galileo.lb.backends import HealthConfig
from galileo.lb.balancer import Balancer, ProxyConfig, Timeouts
from galileo.lb.checks import ActiveChecks, CheckConfig
from galileo.lb.follower import LbFollower
from galileo.lb.launcher import die_with_parent
from galileo.lb.native import running
from galileo.lb.policies import DEFAULT_POLICY, load_policy
from galileo.lb.proxy import ProxyServer
from galileo.localenv import await_ready_lines, stop_children
from galileo.net import bind_socket, new_event_loop
from galileo.process import quiet_gc
from galileo.settings import Settings

__all__ = ["READY_PREFIX", "LbOptions", "serve"]

log = logging.getLogger(__name__)

READY_PREFIX: Final = "galileo lb: serving"
CHILD_READY_TIMEOUT_S: Final = 30.0


@dataclass(kw_only=True)
class LbOptions:
    """Everything ``galileo lb serve`` takes (JSON-able: handed to the extra processes)."""

    host: str = "127.0.0.1"
    port: int = 8000
    processes: int = 1
    cpus: list[int] = field(default_factory=list)
    name: str = "lb"
    policy: str = DEFAULT_POLICY
    allowed_modules: list[str] = field(default_factory=list)
    service: str | None = None
    connect_timeout_s: float = 1.0
    response_timeout_s: float = 10.0
    service_timeouts: dict[str, tuple[float, float]] = field(default_factory=dict)
    max_failures: int = 3
    backoff_s: float = 1.0
    max_header_bytes: int = 16 * 1024
    retries: int = 1
    check_path: str | None = None
    check_interval_s: float = 1.0
    trace: bool = True

    def proxy_config(self) -> ProxyConfig:
        return ProxyConfig(
            name=self.name, service=self.service,
            timeouts=Timeouts(connect_s=self.connect_timeout_s, response_s=self.response_timeout_s),
            service_timeouts={s: Timeouts(connect_s=c, response_s=r)
                              for s, (c, r) in self.service_timeouts.items()},
            health=HealthConfig(max_failures=self.max_failures, backoff_s=self.backoff_s),
            max_header_bytes=self.max_header_bytes, retries=self.retries)

    def validate(self) -> None:
        if self.processes < 1:
            raise ConfigError(f"--processes must be at least 1, got {self.processes}.")
        for what, value in (("--connect-timeout", self.connect_timeout_s),
                            ("--response-timeout", self.response_timeout_s),
                            ("--check-interval", self.check_interval_s)):
            if not value > 0:
                raise ConfigError(f"{what} must be > 0 seconds, got {value}.")
        if self.max_header_bytes < 256:
            raise ConfigError(f"--max-header-bytes must be at least 256, got "
                              f"{self.max_header_bytes}.")
        load_policy(self.policy, self.allowed_modules)  # fails early on a bad name


def serve(settings: Settings, options: LbOptions, *, child: bool = False,
          announce: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (blocking); ``announce`` gets the ready line."""
    options.validate()
    if options.cpus:
        _pin(set(options.cpus) if child or options.processes == 1 else {options.cpus[0]})
    sock = bind_socket(options.host, options.port,
                       reuse_port=options.processes > 1 or child)
    port = int(sock.getsockname()[1])
    loop = new_event_loop()
    children: list[subprocess.Popen[bytes]] = []
    try:
        if not child:
            children = _start_children(options, port)
        url_host = f"[{options.host}]" if ":" in options.host else options.host
        plural = "es" if options.processes > 1 else ""
        line = (f"{READY_PREFIX} on http://{url_host}:{port} ({options.processes} "
                f"process{plural}, policy {options.policy}, balancer {options.name}, "
                f"{running()})")
        loop.run_until_complete(_run(settings, options, sock, line, announce))
    finally:
        stop_children(children)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        sock.close()


async def _run(settings: Settings, options: LbOptions, sock: Any, line: str,
               announce: Callable[[str], None] | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    balancer = Balancer(options.proxy_config(), load_policy(options.policy,
                                                            options.allowed_modules))
    follower = LbFollower(settings, balancer, trace=options.trace,
                          allowed_modules=options.allowed_modules)
    server = ProxyServer(balancer)
    checks: asyncio.Task[None] | None = None
    try:
        await follower.start()
        await server.start(sock)
        if options.check_path:
            checks = loop.create_task(ActiveChecks(balancer, CheckConfig(
                path=options.check_path, interval_s=options.check_interval_s)).run())
        quiet_gc()  # no collector pauses of milliseconds in the middle of proxied requests
        (announce or _print_flush)(line)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if checks is not None:
            checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checks
        await server.close()
        await follower.stop()


def _pin(cpus: set[int]) -> None:
    try:
        os.sched_setaffinity(0, cpus)
    except (AttributeError, OSError) as e:
        raise ConfigError(f"cannot pin the balancer to CPUs {sorted(cpus)}: {e}.") from e


def _print_flush(line: str) -> None:
    print(line, flush=True)


def child_main(argv: list[str]) -> None:
    """``python -m galileo.lb <options JSON>``: one extra process of a balancer (the compiled
    modules, if any, were activated by ``galileo.lb.__main__`` before this module loaded)."""
    from galileo.settings import load_settings

    options = LbOptions(**msgspec.json.decode(argv[0]))
    serve(load_settings(), options, child=True)


def _start_children(options: LbOptions, port: int) -> list[subprocess.Popen[bytes]]:
    children: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(1, options.processes):
            opts = asdict(options) | {"port": port,
                                      "cpus": [options.cpus[i % len(options.cpus)]]
                                      if options.cpus else []}
            cmd = [sys.executable, "-m", "galileo.lb", msgspec.json.encode(opts).decode()]
            children.append(subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent))
        await_ready_lines(children, READY_PREFIX, "balancer")
    except BaseException:
        stop_children(children)
        raise
    return children

