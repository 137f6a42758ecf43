"""``galileo worker``: run the worker daemon until SIGINT/SIGTERM."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from galileo.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker_command(
        name: Annotated[str | None, typer.Option(
            "--name", "-n", help="Worker name (default: galileo_worker_name or the host name)."
        )] = None,
        processes: Annotated[int | None, typer.Option("--processes", "-p", min=1,
                             help="Load processes (default: number of cores).")] = None,
        generators: Annotated[list[Path] | None, typer.Option(
            "--generators", "-g", help="A folder of request generator modules: put on the "
            "import path, and every module in it allowed (repeatable).")] = None,
    ) -> None:
        """Run a worker: host client groups and send their requests."""
        from galileo.settings import load_settings
        from galileo.worker.daemon import run_worker

        settings = load_settings()
        for folder in generators or []:
            allow_folder(settings, folder)
        run_worker(settings, name=name, processes=processes)


def allow_folder(settings: Settings, folder: Path) -> None:
    """``--generators PATH``: PATH on this process's and its load processes' import path, and
    its modules added to ``settings.worker_generators``."""
    from galileo.worker.generators import modules_in

    path = str(folder.resolve())
    modules = modules_in(folder)
    sys.path.insert(0, path)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (path, os.environ.get("PYTHONPATH", "")) if p)
    settings.worker_generators = ",".join(
        m for m in (settings.worker_generators, *modules) if m)
