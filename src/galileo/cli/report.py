"""``galileo report EXP [EXP ...] [-o report.html] [--png DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report_command(
    exp_ids: Annotated[list[str], typer.Argument(
        metavar="EXP...", help="experiment id(s); two or more make a comparison "
                               "against the first")],
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="HTML file to write (default: report-<first id>.html)")] = None,
    png: Annotated[Path | None, typer.Option(
        "--png", help="also write every figure as a PNG file into this folder")] = None,
) -> None:
    """Write a self-contained HTML report (opens offline) on one run, or compare runs (the
    comparison's verdicts are printed here too)."""
    from rich.console import Console

    from galileo.analysis.report import compare_runs, load_run, write_report
    from galileo.errors import ValidationError
    from galileo.settings import load_settings
    from galileo.storage import ExpDB

    if len(set(exp_ids)) != len(exp_ids):
        raise ValidationError("each experiment id may be given only once")
    target = out or Path(f"report-{exp_ids[0]}.html")
    if target.is_dir():
        raise ValidationError(f"-o {str(target)!r} is a folder; give a file name")
    console = Console(stderr=True)
    lines: list[str] = []
    with ExpDB.from_settings(load_settings()) as db, \
            console.status(f"aggregating {len(exp_ids)} run(s) …"):
        path, pngs = write_report(db, exp_ids, target, png)
        if len(exp_ids) > 1:  # the same verdicts as the HTML's (fixed bootstrap seed)
            base = load_run(db, exp_ids[0])
            for other in exp_ids[1:]:
                lines.append(f"{other} vs {base.exp_id}:")
                diffs = compare_runs(base, load_run(db, other))
                lines += [f"  {d.service}: {d.verdict(other)}" for d in diffs]
                lines += [] if diffs else ["  no service in common"]
    for line in lines:
        typer.echo(line)
    size = path.stat().st_size / 1e6
    typer.echo(f"report: {path} ({size:.1f} MB)")
    if pngs:
        typer.echo(f"{len(pngs)} PNG figure(s) in {png}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``galileo`` CLI."""
    app.command("report")(report_command)
