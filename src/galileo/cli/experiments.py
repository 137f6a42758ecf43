"""CLI: ``galileo runner``, ``galileo run FILE``, ``galileo exp …`` and ``galileo bridge``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from galileo.settings import Settings

console = Console()

IdArg = Annotated[str, typer.Argument(help="Experiment id.")]


def runner_command(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64,
                                             help="Experiments run at once (slots).")] = 1,
    name: Annotated[str | None, typer.Option(help="Runner name (default: host-pid).")] = None,
) -> None:
    """Run queued experiments (a Celery worker on the broker); start more to scale out."""
    from galileo.experiments.daemon import run_runner
    from galileo.settings import load_settings

    settings = load_settings()
    _root_warning()
    raise typer.Exit(run_runner(settings, concurrency, name))


ROOT_RUNNER_WARNING = (
    "warning: this runner runs as root, so every experiment it runs (scripts, scenarios, the "
    "apps they start) has root's rights; run `galileo runner` as an unprivileged user")


def _root_warning() -> None:
    """Galileo's one line instead of Celery's multi-line root SecurityWarning."""
    import os
    import warnings

    if os.geteuid() != 0:
        return
    from celery.exceptions import SecurityWarning

    warnings.filterwarnings("ignore", category=SecurityWarning)
    typer.echo(ROOT_RUNNER_WARNING, err=True)


def run_command(
    file: Annotated[Path, typer.Argument(help="Scenario (.yaml/.yml/.json) or script file.")],
    local: Annotated[bool | None, typer.Option(
        "--local/--no-local",
        help="Start local workers and a recorder (default: only with the embedded Redis).")]
        = None,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Local workers.")] = 1,
    exp_id: Annotated[str | None, typer.Option("--id", help="Experiment id.")] = None,
    name: Annotated[str, typer.Option(help="Experiment name.")] = "",
    creator: Annotated[str | None, typer.Option(help="Creator (default: you).")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also show INFO log lines (default: warnings and errors only, "
                                "unless galileo_log_level is set).")] = False,
) -> None:
    """Run an experiment in the foreground; exit 0 when all thresholds pass, 99 when one fails,
    2 for invalid input."""
    from galileo.errors import ValidationError
    from galileo.experiments.headless import EXIT_INVALID, run_file
    from galileo.settings import load_settings

    settings = load_settings()
    _console_logging(settings, verbose)
    try:
        code = run_file(settings, file, console, local=local, workers=workers, exp_id=exp_id,
                        name=name, creator=creator)
    except ValidationError as e:
        _print_invalid(e)
        raise typer.Exit(EXIT_INVALID) from None
    raise typer.Exit(code)


def _console_logging(settings: Settings, verbose: bool) -> None:
    """The console shows what the command prints, plus warnings and errors: INFO log lines
    (which repeat it) only with ``-v`` or an explicit ``galileo_log_level``."""
    import logging

    if verbose:
        logging.getLogger().setLevel(logging.DEBUG if settings.log_level == "DEBUG"
                                     else logging.INFO)
    elif "log_level" not in settings.model_fields_set:
        logging.getLogger().setLevel(logging.WARNING)


def _print_invalid(e: Exception) -> None:
    err = Console(stderr=True)
    problems = getattr(e, "problems", None)
    if problems:
        err.print(f"[bold red]error:[/] {len(problems)} problem(s):", highlight=False)
        for p in problems:
            err.print(f"  {p}", markup=False, highlight=False)
    else:
        err.print(f"[bold red]error:[/] {e}", highlight=False)


def bridge_command(
    queue: Annotated[str | None, typer.Option(help="List to pop (default: Galileo 0.x's "
                                                   "galileo:experiments:instructions).")] = None,
) -> None:
    """Accept Galileo 0.x's raw LPUSH protocol and queue each entry as an experiment."""
    import signal
    import threading

    from galileo.experiments.bridge import Bridge
    from galileo.experiments.service import ExperimentService
    from galileo.protocol import Keys
    from galileo.settings import load_settings

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExperimentService(load_settings()) as service, contextlib.suppress(KeyboardInterrupt):
        Bridge(service, queue or Keys.SEED_INSTRUCTIONS).run(stop)


def register(app: typer.Typer) -> None:
    from galileo.cli.exp import exp_app

    app.command("runner")(runner_command)
    app.command("run")(run_command)
    app.command("bridge")(bridge_command)
    app.add_typer(exp_app, name="exp")
