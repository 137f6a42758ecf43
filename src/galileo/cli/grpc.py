"""``galileo grpc`` (serve the ExperimentService) and ``galileo grpc-client`` (like Galileo
0.x's client.py).

Closed like ``galileo api`` (:mod:`galileo.access`): without ``galileo_api_token`` the server
binds loopback only and refuses another interface (one line, exit 2) unless ``--allow-open`` or
``galileo_api_allow_open=true``, logged loudly; with a token every RPC needs it, and the client
sends it (``galileo_api_token`` or ``--token``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from galileo.access import LOOPBACK_HOST, Exposure, open_bind_warning
from galileo.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from galileo.grpc.client import ExperimentClient

log = logging.getLogger(__name__)

SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")
_RISK = "queue experiments that spawn load and stop running ones"
GRPC_EXPOSURE = Exposure("the gRPC ExperimentService", _RISK, _RISK)


class ClientCommand(StrEnum):
    START = "start"
    STOP = "stop"
    STATUS = "status"
    LIST = "list"
    WATCH = "watch"


def grpc_serve(
    port: Annotated[int | None, typer.Option(
        help="port (default: galileo_grpc_port, 50051)")] = None,
    host: Annotated[str, typer.Option(
        help="interface to bind; other than loopback needs galileo_api_token "
             "or --allow-open")] = LOOPBACK_HOST,
    allow_open: Annotated[bool, typer.Option(
        "--allow-open", help="serve a non-loopback interface WITHOUT a token "
                             "(logged loudly; same as galileo_api_allow_open=true)")] = False,
) -> None:
    """Serve the gRPC ExperimentService until interrupted (every RPC needs
    galileo_api_token when it is set)."""
    from galileo.settings import load_settings

    settings = load_settings()
    bind_port = settings.grpc_port if port is None else port
    warning = open_bind_warning(host, bind_port, settings, allow_open, GRPC_EXPOSURE)
    from galileo.cli.ports import ensure_port_free

    ensure_port_free(host, bind_port)
    from galileo.experiments.service import ExperimentService
    from galileo.grpc.server import create_server

    if warning is not None:
        log.warning(warning)
    service = ExperimentService(settings)
    server, bound = create_server(service, bind_port, host)
    server.start()
    typer.echo(f"gRPC ExperimentService listening on {host}:{bound}")
    try:
        server.wait_for_termination()
    finally:
        server.stop(grace=2).wait()
        service.close()


def grpc_client(
    command: Annotated[ClientCommand, typer.Option("-c", "--command", help="what to do")],
    exp_id: Annotated[str, typer.Option("-i", "--id", help="experiment id")] = "",
    name: Annotated[str, typer.Option("-n", "--name", help="experiment name")] = "",
    grpc_host: Annotated[str, typer.Option(
        "-g", "--grpc-host", help="gRPC server host[:port]")] = "localhost",
    port: Annotated[int | None, typer.Option(
        "-p", "--port", help="port when -g has none (default: galileo_grpc_port)")] = None,
    token: Annotated[str | None, typer.Option(
        help="the server's galileo_api_token (default: galileo_api_token; the variable "
             "keeps it out of the process list)")] = None,
    file: Annotated[Path | None, typer.Option(
        "-f", "--file", help="start: a YAML scenario (.yaml/.yml/.json) or an instruction "
                             "script (any other name); without it, start marks experiment "
                             "-i (traces are tagged until stop), as Galileo 0.x did",
        exists=True, dir_okay=False)] = None,
) -> None:
    """Talk to a gRPC ExperimentService like Galileo 0.x's client.py."""
    from galileo.grpc.client import ExperimentClient, target
    from galileo.settings import load_settings

    settings = load_settings()
    address = target(grpc_host, settings.grpc_port if port is None else port)
    typer.echo(f"Sent command {command.value}")
    secret = token if token is not None else settings.api_token
    with ExperimentClient(address, token=secret) as client:
        for line in _run(client, command, exp_id, name, file):
            typer.echo(f"Received answer: {line}")


def register(app: typer.Typer) -> None:
    """Add ``grpc`` and ``grpc-client`` to the ``galileo`` CLI."""
    app.command("grpc")(grpc_serve)
    app.command("grpc-client")(grpc_client)


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
