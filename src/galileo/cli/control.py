"""Controller commands: ``galileo shell``, ``controller``, ``rtbl``, ``ping``, ``workers``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from galileo.control.galileo import Galileo

SourceOpt = Annotated[
    Path | None,
    typer.Option("--source", "-s", help="Run this script, then exit (parsed fully first)."),
]


def _galileo() -> Galileo:
    from galileo.control.galileo import Galileo
    from galileo.settings import load_settings

    return Galileo(load_settings())


def _line_shell(dialect_name: str, source: Path | None) -> None:
    from rich.console import Console

    from galileo.control import instructions as ins
    from galileo.control import shell

    dialect = ins.Dialect(dialect_name)
    console = Console()
    with _galileo() as g:
        if source is not None:
            shell.run_line_script(g, dialect, source, console)
            return
        # at a terminal, close/flush ask first; piped input runs unattended like a script
        confirm = shell.ask if shell.stdin_is_tty() else None
        status = shell.run_line_shell(g, dialect, console, confirm=confirm)
    if status:
        raise typer.Exit(status)


def shell_command(source: SourceOpt = None) -> None:
    """Python (IPython) shell with g, show, rtbl, exp pre-bound; --source runs a .py script."""
    from rich.console import Console

    from galileo.control import shell
    from galileo.telemetry import Telemd

    with _galileo() as g:
        namespace = shell.python_namespace(g, Console(), telemd=Telemd(g.redis, g.keys))
        if source is not None:
            shell.run_python_script(source, namespace)
        else:
            shell.run_python_shell(namespace)


def controller_command(source: SourceOpt = None) -> None:
    """Instruction shell (exp>): spawn, rps, close, hosts, clients, ping, exp start/stop, …"""
    _line_shell("controller", source)


def rtbl_command(ctx: typer.Context, source: SourceOpt = None) -> None:
    """Routing-table shell (rtbl>): set SERVICE HOSTS WEIGHTS, unset, list, clear, updates, …"""
    if ctx.invoked_subcommand is None:
        _line_shell("rtbl", source)


RtblArgs = Annotated[list[str] | None, typer.Argument(
    help="The instruction's arguments, as in the rtbl shell.", show_default=False)]
# the rtbl shell's instructions as one-shot commands: name -> help
RTBL_ONE_SHOT = {
    "list": "Show the routing table.",
    "set": "Route a service: set SERVICE HOSTS [WEIGHTS], e.g. set api h1:8080,h2:8080 1,2.",
    "unset": "Remove a routing record: unset SERVICE.",
    "clear": "Remove every routing record.",
    "info": "Cluster summary, or one service's routing record and groups: info [SERVICE].",
    "updates": "Print routing updates as they happen: updates SECONDS (without: until Ctrl-C, "
               "at a terminal only).",
    "flush": "Ask every listener to re-read the whole routing table (asks first at a terminal).",
}


def _rtbl_one_shot(name: str) -> Callable[..., None]:
    """``galileo rtbl NAME ARGS…``: the rtbl shell's instruction NAME, run once."""
    def command(args: RtblArgs = None) -> None:
        import shlex

        from rich.console import Console

        from galileo.control import instructions as ins
        from galileo.control import shell
        from galileo.control.executor import Executor
        from galileo.errors import InstructionError, ValidationError

        try:
            instruction = ins.parse_line(shlex.join([name, *(args or [])]), ins.Dialect.RTBL)
        except InstructionError as e:
            raise ValidationError(e.reason) from None
        assert instruction is not None
        confirm = shell.ask if shell.stdin_is_tty() else None  # piped: unattended
        with _galileo() as g:
            Executor(g, ins.Dialect.RTBL, Console(), confirm=confirm).execute(instruction)

    command.__doc__ = RTBL_ONE_SHOT[name]
    command.__name__ = f"rtbl_{name}"
    return command


def ping_command(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for replies.")] = 2.0,
) -> None:
    """Round-trip time to every live worker."""
    from rich.console import Console

    from galileo.control.render import ping_table
    from galileo.errors import WorkerError

    with _galileo() as g:
        rtts = g.ping(timeout)
        Console().print(ping_table(rtts))
        silent = sorted(w for w, rtt in rtts.items() if rtt is None)
        if silent:
            raise WorkerError(f"no reply from worker(s) {', '.join(silent)}")


def workers_command() -> None:
    """List live workers."""
    from rich.console import Console

    from galileo import bus
    from galileo.control.render import workers_table

    with _galileo() as g:
        workers = g.workers()
        if not workers:
            typer.echo(f"no workers registered on Redis {bus.describe(g.settings)} "
                       f"(namespace {g.settings.namespace})", err=True)
            return
        Console().print(workers_table(workers))


def register(app: typer.Typer) -> None:
    app.command("shell")(shell_command)
    app.command("controller")(controller_command)
    from galileo.cli.interop import mirror_etcd_command

    rtbl = typer.Typer(name="rtbl", invoke_without_command=True, no_args_is_help=False)
    rtbl.callback()(rtbl_command)
    rtbl.command("mirror-etcd")(mirror_etcd_command)
    for name in RTBL_ONE_SHOT:
        rtbl.command(name)(_rtbl_one_shot(name))
    app.add_typer(rtbl)
    app.command("ping")(ping_command)
    app.command("workers")(workers_command)
