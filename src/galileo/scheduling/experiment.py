"""Run several schedulers on the same batches and summarise, write and plot the results."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galileo.scheduling.compositions import IntArray
from galileo.scheduling.schedulers import (
    Cluster,
    Context,
    Scheduler,
    check_placement,
    make_scheduler,
    violations,
)
from galileo.scheduling.schedulers.base import TrainingCurve

CSV_COLUMNS = ("scheduler", "mean_tput", "std_tput", "violations", "latency_s", "train_s")


@dataclass
class Result:
    """One scheduler's summary over the batches (violations and latency are means per batch)."""

    scheduler: str
    mean_tput: float
    std_tput: float
    violations: float
    latency_s: float
    train_s: float
    tputs: list[float] = field(default_factory=list)
    curve: TrainingCurve | None = None
    note: str = ""


def run_scheduler(scheduler: Scheduler, batches: IntArray, cluster: Cluster) -> Result:
    """Fit (if it learns) then place every batch; every placement is checked."""
    ctx = scheduler.ctx
    t0 = time.monotonic()
    scheduler.fit(cluster, batches)
    train_s = scheduler.train_s or (time.monotonic() - t0 if scheduler.curve.episodes else 0.0)
    tputs, viols, lat = [], [], []
    notes: dict[str, int] = {}
    for batch in batches:
        t1 = time.monotonic()
        placement = scheduler.place(batch, cluster)
        lat.append(time.monotonic() - t1)
        check_placement(placement, batch, cluster)
        tputs.append(ctx.sim.throughput(placement))
        viols.append(violations(placement, ctx.rules))
        if scheduler.last_note:
            notes[scheduler.last_note] = notes.get(scheduler.last_note, 0) + 1
    note = ", ".join(f"{k}×{v}" for k, v in sorted(notes.items()))
    return Result(scheduler.name, float(np.mean(tputs)), float(np.std(tputs)),
                  float(np.mean(viols)), float(np.mean(lat)), train_s, tputs,
                  scheduler.curve if scheduler.curve.episodes else None, note)


def compare(names: list[str], ctx_for: Callable[[str], Context], batches: IntArray,
            cluster: Cluster) -> list[Result]:
    """Run each named scheduler (context from ``ctx_for(name)``) on ``batches``."""
    return [run_scheduler(make_scheduler(n, ctx_for(n)), batches, cluster) for n in names]


def write_csv(results: list[Result], path: Path) -> None:
    """Columns ``scheduler,mean_tput,std_tput,violations,latency_s,train_s``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in results:
            w.writerow([r.scheduler, f"{r.mean_tput:.4f}", f"{r.std_tput:.4f}",
                        f"{r.violations:.2f}", f"{r.latency_s:.4f}", f"{r.train_s:.2f}"])


def plot(results: list[Result], path: Path, title: str) -> None:
    """A bar chart of mean ± std throughput, plus RL training curves (episode / wall time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [r for r in results if r.curve is not None]
    ncols = 3 if curves else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 4), squeeze=False)
    ax = axes[0][0]
    ax.bar([r.scheduler for r in results], [r.mean_tput for r in results],
           yerr=[r.std_tput for r in results], capsize=3, color="tab:blue")
    ax.set_ylabel("avg per-container normalised throughput")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    for r in curves:
        assert r.curve is not None
        axes[0][1].plot(r.curve.episodes, r.curve.tput, label=r.scheduler, lw=0.8)
        axes[0][2].plot(r.curve.wall_s, r.curve.tput, label=r.scheduler, lw=0.8)
    if curves:
        axes[0][1].set_xlabel("episode")
        axes[0][2].set_xlabel("wall time (s)")
        for a in axes[0][1:]:
            a.set_ylabel("episode throughput")
            a.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
