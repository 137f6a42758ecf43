"""``galileo services apply|run|ls|show|scale|rm|reconcile`` and ``galileo node`` (the node
agent): services declared, placed on the node agents' hosts and kept running."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from galileo.control.galileo import Galileo
    from galileo.protocol import InstanceStatus, ServiceSpec

__all__ = ["register"]

WaitOpt = Annotated[float, typer.Option(
    "--wait", help="Seconds to wait for every instance to be ready and routed (0: do not).")]


def _galileo() -> Galileo:
    from galileo.control.galileo import Galileo
    from galileo.settings import load_settings

    return Galileo(load_settings())


def _labels(values: list[str] | None) -> dict[str, str]:
    from galileo.errors import ValidationError

    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise ValidationError(f"--label {value!r} is not KEY=VALUE.")
        out[key] = val
    return out


def _wait(g: Galileo, names: list[str], wait: float) -> None:
    for name in names:
        spec = g.services.get(name)
        if spec is None or wait <= 0:
            continue
        endpoints = g.services.wait(name, wait)
        typer.echo(f"{name}: {len(endpoints)} ready and routed: {', '.join(endpoints) or '-'}")


def _spec_line(spec: ServiceSpec) -> str:
    mem = f", {spec.memory >> 20} MB" if spec.memory else ""
    where = f", hosts {spec.hosts}" if spec.hosts else ""
    return (f"{spec.kind} {spec.what} × {spec.replicas}, {spec.cpus:g} CPU{mem}, "
            f"placement {spec.placement}{where}")


def _instance_row(s: InstanceStatus) -> list[str]:
    age = max(0.0, (time.time_ns() - s.since_ns) / 1e9) if s.since_ns else 0.0
    return [s.id, s.endpoint, s.state.value, f"{age:.0f} s", str(s.restarts),
            "" if s.exit_code is None else str(s.exit_code), s.reason]


def register(app: typer.Typer) -> None:
    """Add ``services`` and ``node`` to the ``galileo`` CLI."""
    svc = typer.Typer(name="services", no_args_is_help=True,
                      help="Services deployed on the node agents' hosts and kept running.")

    @svc.command("run")
    def run_cmd(
        name: Annotated[str, typer.Argument(help="Service name (also its routing record).")],
        app_name: Annotated[str | None, typer.Option("--app", help="Built-in workload.")] = None,
        command: Annotated[str | None, typer.Option(
            "--command", help="A command named in the hosts' allow-list file.")] = None,
        image: Annotated[str | None, typer.Option(
            "--image", help="A container image (podman; allowed prefixes only).")] = None,
        arg: Annotated[list[str] | None, typer.Option(
            "--arg", help="An argument for the app or image (repeatable).")] = None,
        replicas: Annotated[int, typer.Option("--replicas", "-n")] = 1,
        cpus: Annotated[float, typer.Option(help="CPU quota per instance (cores).")] = 0.0,
        memory: Annotated[str, typer.Option(help="Memory limit per instance, e.g. 256M.")] = "",
        port: Annotated[int, typer.Option(help="Fixed port (default: one per instance).")] = 0,
        health: Annotated[str, typer.Option(help="Health check path ('' = port open).")] =
            "/health",
        placement: Annotated[str, typer.Option(
            help="spread, binpack, least-loaded, a lab scheduler fed by a table (greedy, "
                 "paragon, medea, ours, metis, round-robin: e.g. "
                 "greedy,table=profile/profile.npz) or module:Class.")] = "spread",
        hosts: Annotated[str, typer.Option(help="Host name pattern, e.g. 'pico[1-2]'.")] = "",
        label: Annotated[list[str] | None, typer.Option(
            "--label", help="Node label KEY=VALUE that must match (repeatable).")] = None,
        max_per_host: Annotated[int, typer.Option(help="At most this many per host.")] = 0,
        weights: Annotated[str, typer.Option(help="Routing weights: equal or cpu.")] = "equal",
        wait: WaitOpt = 30.0,
    ) -> None:
        """Declare one service (replacing one of that name)."""
        from galileo.services import service_spec

        spec = service_spec(name, app=app_name, command=command, image=image, args=arg or [],
                            replicas=replicas, cpus=cpus, memory=memory or None, port=port,
                            health=health, placement=placement, hosts=hosts,
                            labels=_labels(label), max_per_host=max_per_host, weights=weights)
        with _galileo() as g:
            spec = g.services.apply(spec)
            typer.echo(f"{spec.name}: declared (version {spec.version}): {_spec_line(spec)}")
            _wait(g, [spec.name], wait)

    @svc.command("apply")
    def apply_cmd(file: Annotated[Path, typer.Argument(help="YAML/JSON services file.")],
                  wait: WaitOpt = 30.0) -> None:
        """Declare every service of a file (all are checked before any is written)."""
        from galileo.services import read_services_file

        specs = [s for s, _keep in read_services_file(file)]
        with _galileo() as g:
            for spec in g.services.apply_all(specs):
                typer.echo(f"{spec.name}: declared (version {spec.version}): {_spec_line(spec)}")
            _wait(g, [s.name for s in specs], wait)

    @svc.command("scale")
    def scale_cmd(name: str, replicas: int, wait: WaitOpt = 30.0) -> None:
        """Change a service's number of replicas."""
        with _galileo() as g:
            spec = g.services.scale(name, replicas)
            typer.echo(f"{name}: {spec.replicas} replicas")
            _wait(g, [name], wait)

    @svc.command("rm")
    def rm_cmd(name: str) -> None:
        """Undeclare a service: its instances stop, its routing record goes."""
        with _galileo() as g:
            g.services.remove(name)
            typer.echo(f"{name}: removed")

    @svc.command("ls")
    def ls_cmd() -> None:
        """Declared services with their ready / declared instances."""
        from rich.console import Console
        from rich.table import Table

        with _galileo() as g:
            table = Table(show_edge=False)
            for col in ("service", "ready", "what", "routed to"):
                table.add_column(col)
            for spec in g.services.declared():
                ready = g.services.ready(spec.name)
                record = g.rtbl.get(spec.name)
                table.add_row(spec.name, f"{len(ready)}/{spec.replicas}", _spec_line(spec),
                              ", ".join(record.hosts) if record else "-")
            nodes = g.services.nodes()
        Console().print(table)
        typer.echo("nodes: " + (", ".join(
            f"{n.name} ({n.cpus_allocated:g}/{n.cpus:g} CPU allocated, {n.cpu_used:.2f} used)"
            for n in nodes) or "none"))

    @svc.command("show")
    def show_cmd(name: str) -> None:
        """One service: its declaration and every instance's state."""
        from rich.console import Console
        from rich.table import Table

        from galileo.errors import NotFoundError

        with _galileo() as g:
            spec = g.services.get(name)
            if spec is None:
                raise NotFoundError(f"no service {name!r} is declared.")
            instances = g.services.instances(name)
            record = g.rtbl.get(name)
        console = Console()
        console.print(f"[bold]{name}[/] (version {spec.version}): {_spec_line(spec)}")
        console.print(f"routed to: {', '.join(record.hosts) if record else '-'}")
        table = Table(show_edge=False)
        for col in ("instance", "endpoint", "state", "since", "restarts", "exit", "reason"):
            table.add_column(col)
        for s in instances:
            table.add_row(*_instance_row(s))
        console.print(table)
        for s in instances:
            if s.log_tail:
                console.print(f"{s.id} last log lines:\n  " + "\n  ".join(s.log_tail),
                              markup=False)

    @svc.command("reconcile")
    def reconcile_cmd() -> None:
        """Run the reconciler in the foreground (``galileo recorder`` already hosts one)."""
        import signal
        import threading

        from galileo import bus
        from galileo.protocol import Keys
        from galileo.services.reconciler import Reconciler
        from galileo.settings import load_settings

        settings = load_settings()
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        client = bus.connect(settings)
        modules = [m for m in settings.services_policy_modules.split(",") if m.strip()]
        typer.echo("services reconciler running")
        Reconciler(client, Keys(settings.namespace), modules).run(stop)

    app.add_typer(svc)

    @app.command("node")
    def node_cmd(
        name: Annotated[str | None, typer.Option(
            help="Node name (default: galileo_worker_name, i.e. the host name).")] = None,
        app_names: Annotated[list[str] | None, typer.Option(
            "--app", help="Allow only these built-in workloads (default: all).")] = None,
        commands: Annotated[Path | None, typer.Option(
            "--commands", help="YAML/JSON file: NAME: [argv...] commands this host allows.")] =
            None,
        allow_image: Annotated[list[str] | None, typer.Option(
            "--allow-image", help="Allow container images starting with this (repeatable).")] =
            None,
        cgroup: Annotated[str, typer.Option(
            help="This host's cgroup (relative path); instances go below it.")] = "",
        cpus: Annotated[float, typer.Option(help="Capacity in cores (default: the cgroup's "
                                                 "quota or the machine's).")] = 0.0,
        memory: Annotated[str, typer.Option(help="Capacity, e.g. 2G (default: the cgroup's "
                                                 "limit or the machine's).")] = "",
        address: Annotated[str, typer.Option(
            help="Host name or address clients use for this node (default: its name).")] = "",
        ports: Annotated[str, typer.Option(
            help="Port range handed to this node's instances.")] = "9100-9999",
    ) -> None:
        """Run this host's node agent: starts, checks and restarts the service instances the
        reconciler assigns here, from this host's allow-list only."""
        import logging
        import signal
        import threading

        from galileo.services.agent import NodeAgent
        from galileo.services.allow import AllowList
        from galileo.settings import load_settings
        from galileo.testbed.cgroups import parse_memory

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        settings = load_settings()
        from galileo.errors import ValidationError

        first, _, last = ports.partition("-")
        if not (first.isdigit() and last.isdigit() and 1024 <= int(first) <= int(last) < 65536):
            raise ValidationError(f"--ports {ports!r} is not a range like 9100-9999.")
        allow = AllowList.build(app_names or [], commands, allow_image or [])
        agent = NodeAgent(settings, name=name, allow=allow, cgroup=cgroup, cpus=cpus or None,
                          memory=parse_memory(memory) if memory else None, address=address,
                          ports=(int(first), int(last)))
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        agent.run(stop)
