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
from galileo.scheduling.schedulers.base import TrainingCurve, medea_weights, weighted_slack
from galileo.scheduling.sim import Simulator

CSV_COLUMNS = ("scheduler", "mean_tput", "std_tput", "plan_tput", "violating_containers",
               "weighted_slack", "latency_s", "train_s")
ROW_COLUMNS = ("scheduler", "row", "score_tput", "plan_tput", "violating_containers",
               "weighted_slack", "latency_s", "note")


@dataclass
class RowResult:
    """One placement: throughput on the scoring and the planning simulator, rule costs."""

    row: int
    score_tput: float
    plan_tput: float
    violating: float
    slack: float
    latency_s: float
    note: str = ""


@dataclass
class Result:
    """One scheduler's summary over the batches. ``mean_tput``/``std_tput`` are measured on the
    scoring simulator, ``plan_tput`` on the planning one; rule costs and latency are means per
    batch (``violating``: containers breaking a rule; ``slack``: Medea's weighted slack)."""

    scheduler: str
    mean_tput: float
    std_tput: float
    plan_tput: float
    violating: float
    slack: float
    latency_s: float
    train_s: float
    rows: list[RowResult] = field(default_factory=list)
    curve: TrainingCurve | None = None
    note: str = ""

    @property
    def tputs(self) -> list[float]:
        return [r.score_tput for r in self.rows]


def run_scheduler(scheduler: Scheduler, batches: IntArray, cluster: Cluster,
                  score_sim: Simulator | None = None,
                  row_ids: list[int] | None = None) -> Result:
    """Fit (if it learns) then place every batch; every placement is checked, then scored on
    ``score_sim`` (default: the scheduler's own planning simulator)."""
    ctx = scheduler.ctx
    score = score_sim if score_sim is not None else ctx.sim
    weights = medea_weights(ctx.rules)
    ids = row_ids if row_ids is not None else list(range(len(batches)))
    t0 = time.monotonic()
    scheduler.fit(cluster, batches)
    train_s = scheduler.train_s or (time.monotonic() - t0 if scheduler.curve.episodes else 0.0)
    rows: list[RowResult] = []
    notes: dict[str, int] = {}
    for row, batch in zip(ids, batches, strict=True):
        t1 = time.monotonic()
        placement = scheduler.place(batch, cluster)
        latency = time.monotonic() - t1
        check_placement(placement, batch, cluster)
        rows.append(RowResult(row, score.throughput(placement), ctx.sim.throughput(placement),
                              violations(placement, ctx.rules),
                              weighted_slack(placement, ctx.rules, weights), latency,
                              scheduler.last_note))
        if scheduler.last_note:
            notes[scheduler.last_note] = notes.get(scheduler.last_note, 0) + 1
    note = ", ".join(f"{k}×{v}" for k, v in sorted(notes.items()))
    tputs = [r.score_tput for r in rows]
    return Result(scheduler.name, float(np.mean(tputs)), float(np.std(tputs)),
                  float(np.mean([r.plan_tput for r in rows])),
                  float(np.mean([r.violating for r in rows])),
                  float(np.mean([r.slack for r in rows])),
                  float(np.mean([r.latency_s for r in rows])), train_s, rows,
                  scheduler.curve if scheduler.curve.episodes else None, note)


def compare(names: list[str], ctx_for: Callable[[str], Context], batches: IntArray,
            cluster: Cluster, score_sim: Simulator | None = None,
            row_ids: list[int] | None = None) -> list[Result]:
    """Run each named scheduler (context, with its planning simulator, from ``ctx_for(name)``)
    on ``batches`` and score every placement on ``score_sim``."""
    return [run_scheduler(make_scheduler(n, ctx_for(n)), batches, cluster, score_sim, row_ids)
            for n in names]


def write_csv(results: list[Result], path: Path) -> None:
    """One line per scheduler (:data:`CSV_COLUMNS`) in ``path`` and one per scheduler and row
    (:data:`ROW_COLUMNS`) in ``<stem>-rows.csv`` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in results:
            w.writerow([r.scheduler, f"{r.mean_tput:.4f}", f"{r.std_tput:.4f}",
                        f"{r.plan_tput:.4f}", f"{r.violating:.2f}", f"{r.slack:.2f}",
                        f"{r.latency_s:.4f}", f"{r.train_s:.2f}"])
    with path.with_name(f"{path.stem}-rows.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ROW_COLUMNS)
        for r in results:
            for x in r.rows:
                w.writerow([r.scheduler, x.row, f"{x.score_tput:.6f}", f"{x.plan_tput:.6f}",
                            f"{x.violating:.0f}", f"{x.slack:.1f}", f"{x.latency_s:.4f}",
                            x.note])


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
