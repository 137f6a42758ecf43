"""``galileo autoscale SERVICE --policy P --min N --max M --period S --cooldown S``: an autoscaler
in the foreground with a live table of its decisions, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections import deque
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from galileo.autoscaling import Decision
    from galileo.tables import Table

__all__ = ["register"]

ROWS = 15  # decisions the live table shows


def parse_options(values: list[str] | None) -> dict[str, Any]:
    """``["target=0.5", "window_s=60"]`` -> a dict; one sentence for a malformed one."""
    from galileo.errors import ConfigError

    out: dict[str, Any] = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {value!r} is not KEY=VALUE.")
        out[key.strip()] = val.strip()
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def decision_table(service: str, decisions: deque[Decision]) -> Table:
    from galileo.tables import Table

    table = Table(title=f"autoscaler of {service}")
    for col, justify in (("t s", "right"), ("metric", "left"), ("observed", "right"),
                         ("target", "right"), ("desired", "right"), ("replicas", "right"),
                         ("reason", "left")):
        table.add_column(col, justify=justify)
    for d in decisions:
        replicas = (f"{d.replicas_from} → {d.replicas_to}" if d.action == "scale"
                    else str(d.replicas_to))
        table.add_row(f"{d.t_s:.1f}", d.metric, _fmt(d.observed), _fmt(d.target),
                      "-" if d.desired is None else str(d.desired), replicas, d.reason)
    return table


def autoscale_command(
    service: Annotated[str, typer.Argument(help="The declared service to scale.")],
    policy: Annotated[str, typer.Option(
        "--policy", "-p", help="cpu, latency, concurrency, schedule or module:Class "
                               "(from galileo_autoscale_policy_modules).")] = "cpu",
    min_replicas: Annotated[int, typer.Option("--min", help="Fewest replicas.")] = 1,
    max_replicas: Annotated[int, typer.Option("--max", help="Most replicas.")] = 10,
    period: Annotated[float, typer.Option(help="Seconds between two decisions.")] = 15.0,
    cooldown: Annotated[float, typer.Option(
        help="Seconds after a change before the next one.")] = 0.0,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="A policy option KEY=VALUE (repeatable), e.g. target=0.6.")
    ] = None,
) -> None:
    """Scale SERVICE by a policy until Ctrl-C / SIGTERM; every decision is an `autoscale` event."""
    from rich.console import Console

    from galileo.autoscaling import Autoscaler, check_bounds, load_policy
    from galileo.control.galileo import Galileo
    from galileo.settings import load_settings
    from galileo.tables import live_view

    options = parse_options(option)
    check_bounds(min_replicas, max_replicas, period, cooldown)
    settings = load_settings()
    modules = [m for m in settings.autoscale_policy_modules.split(",") if m.strip()]
    load_policy(policy, options, modules)  # a bad policy is refused before Redis is touched
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console = Console()
    shown: deque[Decision] = deque(maxlen=ROWS)
    try:
        with Galileo(settings) as g:
            scaler = Autoscaler(g, service, policy, min_replicas, max_replicas, period,
                                cooldown, options, on_decision=shown.append)
            console.print(f"{scaler!r}; Ctrl-C to stop", highlight=False)
            with live_view(console, refresh_per_second=4) as live, \
                    contextlib.suppress(KeyboardInterrupt):
                thread = threading.Thread(target=scaler.run, args=(stop,), daemon=True)
                thread.start()
                while not stop.wait(0.25):
                    live.update(decision_table(service, shown))
                live.update(decision_table(service, shown))
            stop.set()
            thread.join(max(period, 10.0))
            scales = sum(d.action == "scale" for d in scaler.decisions)
            console.print(f"stopped after {len(scaler.decisions)} decision(s), {scales} "
                          "change(s)", highlight=False)
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    app.command("autoscale")(autoscale_command)
