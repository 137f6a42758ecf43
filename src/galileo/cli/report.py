"""``galileo report EXP [EXP ...] [-o report.html] [--png DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        exp_ids: Annotated[list[str], typer.Argument(
            metavar="EXP...", help="experiment id(s); two or more make a comparison "
                                   "against the first")],
        out: Annotated[Path | None, typer.Option(
            "-o", "--out", help="HTML file to write (default: report-<first id>.html)")] = None,
        png: Annotated[Path | None, typer.Option(
            "--png", help="also write every figure as a PNG file into this folder")] = None,
    ) -> None:
        """Write a self-contained HTML report (opens offline) on one run, or compare runs."""
        from rich.console import Console

        from galileo.analysis.report import write_report
        from galileo.errors import NotFoundError, ValidationError
        from galileo.settings import load_settings
        from galileo.storage import ExpDB

        if len(set(exp_ids)) != len(exp_ids):
            raise ValidationError("each experiment id may be given only once")
        target = out or Path(f"report-{exp_ids[0]}.html")
        if target.is_dir():
            raise ValidationError(f"-o {str(target)!r} is a folder; give a file name")
        console = Console(stderr=True)
        with ExpDB.from_settings(load_settings()) as db, \
                console.status(f"aggregating {len(exp_ids)} run(s) …"):
            try:
                path, pngs = write_report(db, exp_ids, target, png)
            except NotFoundError as e:  # a wrong id on the command line is a usage error
                raise ValidationError(str(e)) from None
        size = path.stat().st_size / 1e6
        typer.echo(f"report: {path} ({size:.1f} MB)")
        if pngs:
            typer.echo(f"{len(pngs)} PNG figure(s) in {png}")
