"""``galileo worker``: run the worker daemon until SIGINT/SIGTERM."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker_command(
        name: Annotated[str | None, typer.Option(
            "--name", "-n", help="Worker name (default: galileo_worker_name or the host name)."
        )] = None,
        processes: Annotated[int | None, typer.Option("--processes", "-p", min=1,
                             help="Load processes (default: number of cores).")] = None,
    ) -> None:
        """Run a worker: host client groups and send their requests."""
        from galileo.cli.main import load_settings
        from galileo.worker.daemon import run_worker

        run_worker(load_settings(), name=name, processes=processes)
