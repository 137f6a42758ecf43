"""The report's figures as PNG files (matplotlib, for papers): one file per plotly figure spec,
drawn from the same data (lines, bars, log axes, event lines)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .figures import Figure

DPI = 150


def _title(axis: dict[str, Any] | None) -> str:
    return str(((axis or {}).get("title") or {}).get("text", ""))


def _draw(ax: Any, trace: dict[str, Any]) -> None:
    x = [v for v, y in zip(trace["x"], trace["y"], strict=True) if v is not None and y is not None]
    y = [y for v, y in zip(trace["x"], trace["y"], strict=True) if v is not None and y is not None]
    colour = (trace.get("line") or trace.get("marker") or {}).get("color")
    if trace.get("type") == "bar":
        ax.fill_between(x, y, step="mid", color=colour, alpha=0.5, label=trace.get("name"))
        return
    dash = (trace.get("line") or {}).get("dash")
    style = {"dash": "--", "dot": ":", None: "-", "solid": "-"}.get(dash, "-")
    steps = "steps-post" if (trace.get("line") or {}).get("shape") == "hv" else "default"
    ax.plot(x, y, style, color=colour, label=trace.get("name"), linewidth=1.2, drawstyle=steps)


def save_png(fig: Figure, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lay = fig["layout"]
    figure, ax = plt.subplots(figsize=(8, 3.6))
    try:
        xaxis = lay.get("xaxis") or {}
        if xaxis.get("type") == "log":
            ax.set_xscale("log")
            if xaxis.get("tickvals"):
                ax.set_xticks(xaxis["tickvals"], xaxis["ticktext"])
        right = None
        if fig.get("empty"):
            ax.text(0.5, 0.5, fig["empty"], ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        for trace in fig["data"]:
            if trace.get("meta") == "events":
                continue
            if trace.get("yaxis") == "y2":
                right = right or ax.twinx()
                _draw(right, trace)
            else:
                _draw(ax, trace)
        for shape in lay.get("shapes", []):
            ax.axvline(shape["x0"], color="#999", linestyle=":", linewidth=0.8)
        ax.set_title(str(lay["title"]["text"]), fontsize=11)
        ax.set_xlabel(_title(xaxis))
        ax.set_ylabel(_title(lay.get("yaxis")))
        if (lay.get("yaxis") or {}).get("dtick") == 1:  # counts (replicas): whole numbers
            from matplotlib.ticker import MaxNLocator

            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if any(t.get("meta") != "events" for t in fig["data"]):
            ax.legend(fontsize=7, loc="best")
        figure.tight_layout()
        figure.savefig(path, dpi=DPI)
    finally:
        plt.close(figure)


def write_pngs(figures: Sequence[tuple[str, Figure]], out_dir: Path) -> list[Path]:
    """One ``<name>.png`` per figure in ``out_dir`` (created when missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures:
        path = out_dir / f"{name}.png"
        save_png(fig, path)
        paths.append(path)
    return paths
