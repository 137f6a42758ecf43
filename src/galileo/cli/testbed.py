"""``galileo testbed up|status|run|partition|heal|link|down``: an emulated cluster of hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from galileo.testbed.testbed import Testbed

__all__ = ["register"]

PrefixOpt = Annotated[str, typer.Option("--prefix", help="Name prefix of the testbed's hosts.")]
DelayOpt = Annotated[str | None, typer.Option(help="Link delay, e.g. 10ms (needs tc netem).")]
JitterOpt = Annotated[str | None, typer.Option(help="Delay jitter, e.g. 2ms (needs tc netem).")]
LossOpt = Annotated[str | None, typer.Option(help="Packet loss, e.g. 0.1% (needs tc netem).")]
RateOpt = Annotated[str | None, typer.Option(help="Link rate, e.g. 100mbit (tc tbf).")]


def _data_dir() -> Path:
    from galileo.settings import load_settings
    from galileo.testbed.netns import check_privileges

    settings = load_settings()
    check_privileges()
    return settings.data_dir


def _attach(prefix: str) -> Testbed:
    from galileo.testbed.testbed import Testbed

    return Testbed.attach(_data_dir(), prefix)


def up_cmd(
    hosts: Annotated[int, typer.Option("--hosts", help="Number of hosts.")] = 3,
    prefix: PrefixOpt = "pico",
    zones: Annotated[str, typer.Option(help="Zones assigned round-robin, e.g. A,B.")] = "",
    delay: DelayOpt = None, jitter: JitterOpt = None, loss: LossOpt = None,
    rate: RateOpt = None,
    service_delay: Annotated[str, typer.Option(
        help="Response delay of every host's echo service, e.g. 10ms.")] = "",
    cpus: Annotated[str, typer.Option(
        "--cpus", help="CPU quota of every host's cgroup in cores, e.g. 0.5.")] = "",
    memory: Annotated[str, typer.Option(
        "--memory", help="Memory limit of every host's cgroup, e.g. 512M.")] = "",
    host_resources: Annotated[list[str] | None, typer.Option(
        "--host-resources", help="One host's CPUs[,memory], e.g. pico1=1,512M "
        "(repeatable; overrides --cpus/--memory).")] = None,
    node_agents: Annotated[bool, typer.Option(
        "--node-agents/--no-node-agents", help="Run a node agent on every host.")] = True,
) -> None:
    """Create the control host (Redis, recorder, expdb) and N hosts (worker, telemd, echo,
    node agent), each host in a cgroup with its CPU quota and memory limit."""
    from rich.console import Console

    from galileo.errors import ValidationError
    from galileo.testbed.cgroups import Resources
    from galileo.testbed.links import LinkSpec
    from galileo.testbed.render import status_view
    from galileo.testbed.testbed import Testbed

    link = LinkSpec.parse(delay=delay, jitter=jitter, loss=loss, rate=rate)
    resources = Resources.parse(cpus or None, memory or None)
    per_host: dict[str, Resources] = {}
    for item in host_resources or []:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ValidationError(f"--host-resources {item!r} is not HOST=CPUS[,MEMORY].")
        per_host[name.strip()] = Resources.parse_pair(spec, f"--host-resources {item}")
    data_dir = _data_dir()
    console = Console()
    with console.status(f"bringing up testbed {prefix!r} with {hosts} hosts…") as status:
        tb = Testbed.up(hosts, data_dir=data_dir, prefix=prefix, link=link,
                        zones=zones.split(","), service_delay=service_delay,
                        resources=resources, host_resources=per_host, node_agents=node_agents,
                        progress=lambda msg: status.update(f"testbed {prefix!r}: {msg}…"))
    console.print(status_view(tb))
    flag = "" if prefix == "pico" else f" --prefix {prefix}"
    console.print(f"next: [bold]galileo testbed run{flag} -- galileo workers[/]")


def status_cmd(prefix: PrefixOpt = "pico", as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON document (for scripts).")] = False) -> None:
    """Hosts, addresses, processes and link properties."""
    import json

    from rich.console import Console

    from galileo.testbed.render import status_document, status_view

    tb = _attach(prefix)
    if as_json:
        typer.echo(json.dumps(status_document(tb), indent=1))
    else:
        Console().print(status_view(tb))


def run_cmd(
    cmd: Annotated[list[str], typer.Argument(help="The command (after --).")],
    host: Annotated[str, typer.Option("--host", help="Host to run in.")] = "control",
    prefix: PrefixOpt = "pico",
) -> None:
    """Run a command inside a host with the environment reaching the testbed."""
    tb = _attach(prefix)
    raise typer.Exit(tb.run(host, cmd).returncode)


def partition_cmd(name: Annotated[str, typer.Argument(help="Host to cut off.")],
                  prefix: PrefixOpt = "pico") -> None:
    """Cut one host's link (packets both ways are dropped)."""
    _attach(prefix).partition(name)
    typer.echo(f"{name}: partitioned")


def heal_cmd(name: Annotated[str, typer.Argument(help="Host to reconnect.")],
             prefix: PrefixOpt = "pico") -> None:
    """Restore one host's link."""
    _attach(prefix).heal(name)
    typer.echo(f"{name}: connected")


def link_cmd(name: Annotated[str, typer.Argument(help="Host whose link to change.")],
             delay: DelayOpt = None, jitter: JitterOpt = None, loss: LossOpt = None,
             rate: RateOpt = None, prefix: PrefixOpt = "pico") -> None:
    """Set one host's link properties (unset ones are removed)."""
    from galileo.testbed.links import LinkSpec

    spec = LinkSpec.parse(delay=delay, jitter=jitter, loss=loss, rate=rate)
    _attach(prefix).link(name, spec)
    typer.echo(f"{name}: {spec.describe()}")


def down_cmd(prefix: PrefixOpt = "pico") -> None:
    """Stop every process and remove every namespace, link and /etc/netns entry of the
    testbed. Its logs, experiment database and reports stay in the testbed's folder of the
    data directory (printed here) for later analysis; delete that folder to drop them."""
    from galileo.testbed.testbed import Testbed, testbed_dir

    data_dir = _data_dir()
    removed = Testbed.down_prefix(data_dir, prefix)
    typer.echo(f"testbed {prefix!r}: removed {len(removed)} namespaces" if removed
               else f"testbed {prefix!r}: nothing to remove")
    folder = testbed_dir(data_dir, prefix)
    if folder.exists():
        typer.echo(f"kept its logs, experiment database and reports in {folder}")


def register(app: typer.Typer) -> None:
    """Add the ``testbed`` command group to the ``galileo`` CLI."""
    tb_cli = typer.Typer(name="testbed", no_args_is_help=True,
                         help="An emulated multi-host cluster on this machine (needs root).")
    tb_cli.command("up")(up_cmd)
    tb_cli.command("status")(status_cmd)
    tb_cli.command("run", context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True})(run_cmd)
    tb_cli.command("partition")(partition_cmd)
    tb_cli.command("heal")(heal_cmd)
    tb_cli.command("link")(link_cmd)
    tb_cli.command("down")(down_cmd)
    app.add_typer(tb_cli)
