"""Experiment reports: one self-contained HTML file per run or comparison of runs, and PNGs.

    from galileo.analysis.report import load_run, render_report
    html = render_report([load_run(db, "202401011200-ab12")])

``galileo report EXP [EXP ...] [-o report.html] [--png DIR]`` is the command line. Needs the
``dashboard`` extra (jinja2, plotly) and, for PNGs, matplotlib (``analysis`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from galileo.storage import ExpDB

from .compare import Difference, compare_runs
from .figures import compare_figures, run_figures
from .html import render_report
from .runs import RunData, load_run

__all__ = ["Difference", "RunData", "compare_runs", "load_run", "render_report",
           "write_report"]


def write_report(db: ExpDB, exp_ids: Sequence[str], out: Path,
                 png_dir: Path | None = None) -> tuple[Path, list[Path]]:
    """Write the HTML report on ``exp_ids`` to ``out`` (and PNGs to ``png_dir``)."""
    runs = [load_run(db, e) for e in exp_ids]
    html = render_report(runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)  # never a half-written report
    pngs: list[Path] = []
    if png_dir is not None:
        from .png import write_pngs

        figs = [(f"{r.exp_id}-{name}", fig) for r in runs for name, fig in run_figures(r)]
        if len(runs) > 1:
            figs += compare_figures(runs)
        pngs = write_pngs(figs, png_dir)
    return out, pngs
