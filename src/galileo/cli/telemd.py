"""``galileo telemd``: run the node's telemetry agent until SIGINT/SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from galileo.errors import ValidationError


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        name, sep, target = value.partition("=")
        if not sep or not name or not target:
            raise ValidationError(f"{option} {value!r}: expected NAME=TARGET")
        out[name] = target
    return out


def register(app: typer.Typer) -> None:
    """Add the ``telemd`` command to ``app``."""

    @app.command("telemd")
    def telemd(
        node: Annotated[str | None, typer.Option(
            help="Node name (default: the host name, or the setting galileo_worker_name).")]
        = None,
        period: Annotated[float, typer.Option(min=0.01, help="Seconds between samples.")] = 1.0,
        instruments: Annotated[str, typer.Option(
            help="Comma-separated instruments, default all: cpu, freq, load, procs, ram, net, "
                 "disk, psi, gpu, cgroup, proc.")] = "",
        period_of: Annotated[list[str] | None, typer.Option(
            "--period-of", help="Per-instrument period, e.g. --period-of disk=5.")] = None,
        per_core: Annotated[bool, typer.Option(help="Also report cpu and freq per core.")] = False,
        cgroup: Annotated[list[str] | None, typer.Option(
            help="Watch a cgroup v2 directory: NAME=PATH (repeatable).")] = None,
        proc: Annotated[list[str] | None, typer.Option(
            help="Watch a process and its children: NAME=PID, or NAME=TEXT for the process "
                 "whose command line contains TEXT.")] = None,
        no_containers: Annotated[bool, typer.Option(
            "--no-containers", help="Do not discover Docker/Kubernetes cgroups.")] = False,
        node_cgroup: Annotated[str, typer.Option(
            help="Report the node's cpu and ram from this cgroup (relative path; a testbed "
                 "host's).")] = "",
        no_topics: Annotated[bool, typer.Option(
            "--no-topics", help="Do not publish Galileo 0.x's telem/<node>/… topics.")] = False,
    ) -> None:
        """Sample this node (CPU, memory, network, disk, PSI, cgroups, GPU) into Galileo."""
        import signal
        import threading

        from galileo.settings import load_settings
        from galileo.telemetry.agent import ALL_INSTRUMENTS, Agent, AgentOptions

        settings = load_settings()
        try:
            periods = {k: float(v) for k, v in _pairs(period_of, "--period-of").items()}
        except ValueError:
            raise ValidationError("--period-of: periods must be numbers of seconds") from None
        options = AgentOptions(
            instruments=[i.strip() for i in instruments.split(",") if i.strip()] or ALL_INSTRUMENTS,
            period_s=period, periods=periods, per_core=per_core,
            cgroups={k: Path(v) for k, v in _pairs(cgroup, "--cgroup").items()},
            processes=dict(_pairs(proc, "--proc")),
            discover_containers=not no_containers, publish_topics=not no_topics,
            node_cgroup=node_cgroup)
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        with Agent(settings, node, options) as agent:
            agent.run(stop)
