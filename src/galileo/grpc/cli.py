"""``galileo grpc`` (serve the ExperimentService) and ``galileo grpc-client`` (like Galileo
0.x's client.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from galileo.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from galileo.grpc.client import ExperimentClient

SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")


class ClientCommand(StrEnum):
    START = "start"
    STOP = "stop"
    STATUS = "status"
    LIST = "list"
    WATCH = "watch"


def register(app: typer.Typer) -> None:
    @app.command("grpc")
    def grpc_serve(
        port: Annotated[int | None, typer.Option(
            help="port (default: galileo_grpc_port, 50051)")] = None,
        host: Annotated[str, typer.Option(help="interface to bind")] = "[::]",
    ) -> None:
        """Serve the gRPC ExperimentService until interrupted."""
        from galileo.cli.main import load_settings
        from galileo.experiments.service import ExperimentService
        from galileo.grpc.server import create_server

        settings = load_settings()
        service = ExperimentService(settings)
        server, bound = create_server(service, settings.grpc_port if port is None else port,
                                      host)
        server.start()
        typer.echo(f"gRPC ExperimentService listening on {host}:{bound}")
        try:
            server.wait_for_termination()
        finally:
            server.stop(grace=2).wait()
            service.close()

    @app.command("grpc-client")
    def grpc_client(
        command: Annotated[ClientCommand, typer.Option("-c", "--command", help="what to do")],
        exp_id: Annotated[str, typer.Option("-i", "--id", help="experiment id")] = "",
        name: Annotated[str, typer.Option("-n", "--name", help="experiment name")] = "",
        grpc_host: Annotated[str, typer.Option(
            "-g", "--grpc-host", help="gRPC server host[:port]")] = "localhost",
        port: Annotated[int | None, typer.Option(
            "-p", "--port", help="port when -g has none (default: galileo_grpc_port)")] = None,
        file: Annotated[Path | None, typer.Option(
            "-f", "--file", help="start: a YAML scenario (.yaml/.yml/.json) or an instruction "
                                 "script (any other name); without it, start marks experiment "
                                 "-i (traces are tagged until stop), as Galileo 0.x did",
            exists=True, dir_okay=False)] = None,
    ) -> None:
        """Talk to a gRPC ExperimentService like Galileo 0.x's client.py."""
        from galileo.cli.main import load_settings
        from galileo.grpc.client import ExperimentClient, target

        settings = load_settings()
        address = target(grpc_host, settings.grpc_port if port is None else port)
        typer.echo(f"Sent command {command.value}")
        with ExperimentClient(address) as client:
            for line in _run(client, command, exp_id, name, file):
                typer.echo(f"Received answer: {line}")


def _run(client: ExperimentClient, command: ClientCommand, exp_id: str, name: str,
         file: Path | None) -> Iterator[str]:
    """The answer line(s) of one command (``watch``: one per status update, as they come)."""
    if command is ClientCommand.START:
        if file is None:  # Galileo 0.x's form: an experiment by id/name that tags traces
            yield client.original("start", exp_id, name)
            return
        text = file.read_text()
        is_scenario = file.suffix.lower() in SCENARIO_SUFFIXES
        reply = client.start(exp_id=exp_id, name=name or file.stem,
                             scenario=text if is_scenario else "",
                             script="" if is_scenario else text)
        yield str(reply.answer)
    elif command is ClientCommand.LIST:
        for e in client.list():
            yield f"{e.id} {e.status} {e.progress * 100:.0f}% {e.name}"
    elif not exp_id:
        raise ValidationError(f"{command.value} needs an experiment id: -i ID")
    elif command is ClientCommand.STOP:
        yield _or_original(client, command, exp_id, lambda: str(client.stop(exp_id).answer))
    elif command is ClientCommand.STATUS:
        yield _or_original(client, command, exp_id, lambda: str(client.status(exp_id).answer))
    else:
        for message in client.watch(exp_id):
            yield str(message.answer)


def _or_original(client: ExperimentClient, command: ClientCommand, exp_id: str,
                 modern: Callable[[], str]) -> str:
    """The queue's experiment ``exp_id``, else the one started by id alone (0.x's form)."""
    try:
        return modern()
    except NotFoundError:
        return client.original(command.value, exp_id)
