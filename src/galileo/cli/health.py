"""``galileo health ROLE``: the probe containers and orchestrators call (Docker ``HEALTHCHECK``,
Kubernetes liveness/readiness). Exit 0 and one ``healthy: …`` line, or exit 1 and one
``unhealthy: …`` line naming what failed. Checks per role:

- every role except ``app`` and ``api``: the bus answers ``PING``;
- ``worker``: this worker (``galileo_worker_name``) is registered and heartbeating;
- ``recorder``, ``runner``: the experiment database answers a trivial query; ``recorder``: the
  traces backlog is not growing with its oldest entry 10 s old or more (recorder falling behind);
- ``api``: ``GET /health`` on the API port answers 2xx; ``grpc``: the gRPC port accepts;
- ``app``: ``GET /health`` on the built-in service's port answers 2xx.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from galileo.settings import Settings


class Role(StrEnum):
    worker = "worker"
    telemd = "telemd"
    recorder = "recorder"
    runner = "runner"
    api = "api"
    grpc = "grpc"
    app = "app"


class Unhealthy(Exception):
    """One failed check; the message says which and why."""


def _no_embedded_start(settings: Settings) -> None:
    """A probe never starts the embedded Redis: without a configured bus it just looks."""
    from galileo import bus

    if settings.embedded_redis and not bus.embedded_redis_running(settings.data_dir):
        raise Unhealthy(f"no bus: galileo_redis_url is unset and the embedded Redis in "
                        f"{settings.data_dir} is not running")


def _check_bus(settings: Settings) -> str:
    from galileo import bus
    from galileo.errors import BusError

    _no_embedded_start(settings)
    try:
        client = bus.connect(settings)
    except BusError as e:
        raise Unhealthy(f"bus at {bus.describe(settings)} unreachable ({e})") from None
    client.close()
    return "bus ok"


def _check_worker(settings: Settings) -> str:
    from galileo import bus
    from galileo.errors import BusError
    from galileo.protocol import Keys

    name = settings.worker_name
    _no_embedded_start(settings)
    try:
        client = bus.connect(settings)
        try:
            alive = bool(client.exists(Keys(settings.namespace).worker(name)))
        finally:
            client.close()
    except BusError as e:
        raise Unhealthy(f"bus at {bus.describe(settings)} unreachable ({e})") from None
    if not alive:
        raise Unhealthy(f"worker {name} is not registered (no heartbeat in the last few seconds)")
    return f"worker {name} alive"


def _check_expdb(settings: Settings) -> str:
    from galileo.errors import StorageError

    try:
        from galileo.storage.expdb import ping
    except ModuleNotFoundError as e:
        raise Unhealthy(f"{e.name} is not installed: pip install 'galileo[expdb]'") from None
    try:
        ping(settings.expdb_connection_url())
    except StorageError as e:
        raise Unhealthy(str(e)) from None  # names the (redacted) URL and the driver's reason
    return "expdb ok"


LAG_MIN_AGE_S = 10.0  # a backlog younger than this is a burst, not a recorder falling behind


def _check_recorder_lag(settings: Settings, timeout_s: float) -> str:
    """Unhealthy while the traces backlog keeps growing (three readings over at most 2 s)."""
    from galileo import bus
    from galileo.errors import BusError
    from galileo.protocol import Keys
    from galileo.recorder.backlog import falling_behind, read_stream

    keys = Keys(settings.namespace)
    step_s = min(2.0, timeout_s * 0.6) / 2
    try:
        client = bus.connect(settings)
        try:
            readings = [read_stream(client, "traces", keys.traces)]
            for _ in range(2):
                time.sleep(step_s)
                readings.append(read_stream(client, "traces", keys.traces))
        finally:
            client.close()
    except BusError as e:
        raise Unhealthy(f"bus at {bus.describe(settings)} unreachable ({e})") from None
    why = falling_behind(readings, LAG_MIN_AGE_S)
    if why:
        raise Unhealthy(why)
    return f"traces backlog {readings[-1].entries} entries, not growing"


def _check_http(url: str, timeout_s: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            status = int(resp.status)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Unhealthy(f"GET {url} failed ({reason})") from None
    if not 200 <= status < 300:
        raise Unhealthy(f"GET {url} answered {status}")
    return f"GET {url} {status}"


def _check_port(host: str, port: int, timeout_s: float) -> str:
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        raise Unhealthy(f"nothing accepts connections on {host}:{port} ({e})") from None
    return f"{host}:{port} accepts"


def check(role: Role, settings: Settings, *, port: int | None = None,
          timeout_s: float = 3.0) -> list[str]:
    """Run the role's checks; the passed checks' descriptions, or :class:`Unhealthy`."""
    done: list[str] = []
    if role not in (Role.api, Role.app):
        done.append(_check_worker(settings) if role is Role.worker else _check_bus(settings))
    if role in (Role.recorder, Role.runner):
        done.append(_check_expdb(settings))
    if role is Role.recorder:
        done.append(_check_recorder_lag(settings, timeout_s))
    if role is Role.api:
        done.append(_check_http(f"http://127.0.0.1:{port or settings.api_port}/health", timeout_s))
    if role is Role.grpc:
        done.append(_check_port("127.0.0.1", port or settings.grpc_port, timeout_s))
    if role is Role.app:
        done.append(_check_http(f"http://127.0.0.1:{port or 8080}/health", timeout_s))
    return done


def register(app: typer.Typer) -> None:
    @app.command("health")
    def health_command(
        role: Annotated[Role, typer.Argument(help="What this process is.")],
        port: Annotated[int | None, typer.Option(
            "--port", help="Port of the api/grpc/app to probe (default: its setting; app 8080).",
        )] = None,
        timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds.")] = 3.0,
    ) -> None:
        """Probe a Galileo process for container health checks: exit 0 healthy, 1 not."""
        from rich.console import Console

        from galileo.settings import load_settings

        out = Console(soft_wrap=True, highlight=False)
        try:
            done = check(role, load_settings(), port=port, timeout_s=timeout)
        except Unhealthy as e:
            out.print(f"unhealthy: {role.value}: {e}", markup=False)
            raise typer.Exit(1) from None
        out.print(f"healthy: {role.value}: " + ", ".join(done), markup=False)
