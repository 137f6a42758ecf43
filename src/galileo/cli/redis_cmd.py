"""``galileo redis start|stop|status``: the embedded Redis used when none is configured.

Every local ``galileo`` process with no ``galileo_redis_*`` setting shares one embedded Redis
(a daemon on ``<data_dir>/redis.sock``); it keeps running between commands so workers, shells
and the recorder can meet. ``galileo demo`` stops the one it started; this stops any."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

console = Console()


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    STATUS = "status"


def register(app: typer.Typer) -> None:
    @app.command("redis")
    def redis_cmd(action: Annotated[Action, typer.Argument(help="start, stop or status")]
                  = Action.STATUS) -> None:
        """Start, stop or show the embedded Redis (used when no galileo_redis_* is set)."""
        from galileo import bus
        from galileo.errors import ConfigError
        from galileo.settings import load_settings

        settings = load_settings()
        if not settings.embedded_redis:
            raise ConfigError(f"Redis is configured ({bus.describe(settings)}), so there is no "
                              "embedded Redis to manage")
        sock = settings.embedded_redis_socket
        if action is Action.START:
            bus.ensure_embedded_redis(settings.data_dir)
            console.print(f"embedded Redis running on {sock}")
        elif action is Action.STOP:
            running = bus.embedded_redis_running(settings.data_dir)
            bus.stop_embedded_redis(settings.data_dir)
            console.print("embedded Redis stopped" if running else "embedded Redis was not running")
        else:
            state = "running" if bus.embedded_redis_running(settings.data_dir) else "not running"
            console.print(f"embedded Redis on {sock}: {state}")
