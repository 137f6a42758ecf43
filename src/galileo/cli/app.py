"""``galileo app serve|list``: run Galileo's built-in example services."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``app`` command group to the ``galileo`` CLI."""
    apps_cli = typer.Typer(
        name="app", help="Built-in example services (echo, classify, …).", no_args_is_help=True
    )

    @apps_cli.command("serve")
    def serve_cmd(
        names: Annotated[
            list[str] | None, typer.Argument(help="Services to serve (default: echo classify).")
        ] = None,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8080,
        processes: Annotated[
            int, typer.Option(help="Server processes sharing the port (SO_REUSEPORT).")
        ] = 1,
        cpus: Annotated[
            str, typer.Option(help="Pin to these CPUs, e.g. '0' or '0,1' (one per process).")
        ] = "",
        delay: Annotated[str, typer.Option(
            help="Hold every answer (but /health) back this long, e.g. 10ms.")] = "",
        jitter: Annotated[str, typer.Option(
            help="Vary the delay uniformly by up to this much, e.g. 2ms.")] = "",
    ) -> None:
        """Serve the named services on one port until SIGTERM / Ctrl-C."""
        from galileo.apps.delay import ResponseDelay
        from galileo.apps.registry import DEFAULT_SERVICES
        from galileo.apps.server import parse_cpus, serve
        from galileo.settings import load_settings

        load_settings()  # logging as configured for every command
        serve(names or list(DEFAULT_SERVICES), host, port, processes=processes,
              cpus=parse_cpus(cpus), delay=ResponseDelay.parse(delay, jitter))

    @apps_cli.command("list")
    def list_cmd() -> None:
        """List the available services."""
        from galileo.apps.registry import DEFAULT_SERVICES, list_services

        services = list_services()
        width = max(len(s.name) for s in services)
        for info in services:
            mark = "  (default)" if info.name in DEFAULT_SERVICES else ""
            typer.echo(f"{info.name:<{width}}  {info.description}{mark}")

    app.add_typer(apps_cli)
