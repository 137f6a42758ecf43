"""``galileo`` console entry point.

Each part of Galileo contributes its commands through a ``register(app)`` function in its own
``cli`` module; this file only assembles them and maps ``GalileoError`` to one line + exit code.
Heavy imports stay inside the command functions so ``galileo --help`` is fast.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from rich.console import Console
from rich.markup import escape

from galileo.errors import GalileoError
from galileo.settings import Settings

app = typer.Typer(
    name="galileo",
    help="Experiments on distributed web-service clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, soft_wrap=True)  # one error = one line, never wrapped

# modules that provide ``register(app: typer.Typer) -> None``; a missing one is skipped so that
# parts can land independently.
COMMAND_MODULES = (
    "galileo.cli.demo",
    "galileo.cli.redis_cmd",
    "galileo.worker.cli",
    "galileo.recorder.cli",
    "galileo.control.cli",
    "galileo.apps.cli",
    "galileo.scheduling.cli",
    "galileo.experiments.cli",
    "galileo.telemetry.cli",
    "galileo.profiling.cli",
    "galileo.web.cli",
    "galileo.grpc.cli",
)


# optional dependencies (top-level module -> the extra that installs it)
OPTIONAL_MODULES = {
    "fastapi": "api", "uvicorn": "api", "grpc": "api", "grpc_tools": "api", "google": "api",
    "pandas": "analysis", "matplotlib": "analysis", "pyarrow": "export", "scipy": "sched",
    "locust": "dev",
}


def load_settings() -> Settings:
    """Build the one Settings object (used by every command) and configure logging."""
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return settings


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and name.startswith(e.name):
                continue
            raise
        module.register(app)


_register_all()


def run() -> None:
    """Console-script entry: run the app, turning user errors into one line and an exit code."""
    try:
        app()
    except GalileoError as e:
        err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(e.exit_code)
    except ModuleNotFoundError as e:
        extra = OPTIONAL_MODULES.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        err_console.print(f"[bold red]error:[/] this command needs the optional package "
                          f"{e.name!r}: pip install " + escape(f"'galileo[{extra}]'"),
                          highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    run()
