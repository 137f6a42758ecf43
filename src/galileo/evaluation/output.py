"""What ``galileo sched validate`` writes: CSV files, a PNG and the terminal tables."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from galileo.evaluation.validate import SchedulerResult, Validation
from galileo.tables import Table


def write_csv(v: Validation, out_dir: Path) -> list[Path]:
    """``schedulers.csv``, ``instances.csv`` and ``solo.csv`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "schedulers.csv", out_dir / "instances.csv", out_dir / "solo.csv"]
    with paths[0].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["scheduler", "experiment", "predicted_mean", "measured_mean",
                    "ci95_low", "ci95_high", "repeats", "mae", "generator_behind"])
        for s in v.schedulers:
            err = sum(abs(r.predicted - r.measured_mean) for r in s.instances) / len(s.instances)
            w.writerow([s.name, s.exp_id, f"{s.predicted:.4f}", f"{s.measured.mean:.4f}",
                        f"{s.measured.low:.4f}", f"{s.measured.high:.4f}", s.measured.n,
                        f"{err:.4f}", f"{behind_share(s):.3f}"])
    with paths[1].open("w", newline="") as fh:
        w = csv.writer(fh)
        repeats = max((len(r.measured) for s in v.schedulers for r in s.instances), default=0)
        w.writerow(["scheduler", "instance", "app", "host", "predicted", "measured_mean",
                    "generator_behind", *(f"measured_{k + 1}" for k in range(repeats))])
        for s in v.schedulers:
            for r in s.instances:
                w.writerow([s.name, r.index, r.app, r.host, f"{r.predicted:.4f}",
                            f"{r.measured_mean:.4f}", r.behind,
                            *(f"{x:.4f}" for x in r.measured)])
    with paths[2].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["app", "rate_rps", "achieved_rps", "sent", "window_s",
                    "generator_kept_up", "served_ratio"])
        for solo in v.solos.values():
            w.writerow([solo.app, f"{solo.rate:.2f}", f"{solo.achieved:.2f}", solo.sent,
                        solo.window_s, solo.generator_kept_up, f"{solo.served_ratio:.3f}"])
    return paths


def behind_share(s: SchedulerResult) -> float:
    """Share of instance-windows in which the load worker fell behind."""
    windows = sum(len(r.measured) for r in s.instances)
    return sum(r.behind for r in s.instances) / windows if windows else 0.0


def write_png(v: Validation, path: Path) -> Path:
    """Left: per scheduler predicted vs measured mean (95 % CI); right: per instance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [s.name for s in v.schedulers]
    xs = range(len(names))
    left.bar([x - 0.2 for x in xs], [s.predicted for s in v.schedulers], 0.4,
             label="predicted (simulator)")
    halves = [0.0 if math.isnan(s.measured.half) else s.measured.half for s in v.schedulers]
    left.bar([x + 0.2 for x in xs], [s.measured.mean for s in v.schedulers], 0.4,
             yerr=halves, capsize=4, label="measured (95 % CI)")
    left.set_xticks(list(xs), names)
    left.set_ylabel("mean normalised throughput")
    left.set_title(f"per scheduler (Kendall τ {v.tau:.2f})")
    top = max([0.0, *(s.predicted for s in v.schedulers),
               *(s.measured.mean + h for s, h in zip(v.schedulers, halves, strict=True))])
    left.set_ylim(0, 1.3 * top or 1.0)
    left.legend(loc="upper center", ncol=2, fontsize="small")
    every = [r for s in v.schedulers for r in s.instances]
    for s in v.schedulers:
        right.scatter([r.predicted for r in s.instances],
                      [r.measured_mean for r in s.instances], label=s.name, alpha=0.8)
    hi = max([1.05, *(r.predicted for r in every), *(r.measured_mean for r in every)])
    right.plot([0, hi], [0, hi], color="grey", lw=1, ls="--")
    right.set_xlabel("predicted")
    right.set_ylabel("measured")
    right.set_title(f"per instance (MAE {v.mae:.3f})")
    right.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _table(title: str, headers: list[str]) -> Table:
    table = Table(title=title)
    for h in headers:
        table.add_column(h)
    return table


def tables(v: Validation) -> list[Table]:
    """The solo table (generator check), the scheduler table and the per-instance table."""
    solo = _table("alone on the first host (the normaliser)",
                  ["app", "rate req/s", "achieved", "achieved/offered", "generator"])
    for s in v.solos.values():
        solo.add_row(*[s.app, f"{s.rate:.1f}", f"{s.achieved:.1f}", f"{s.served_ratio:.3f}",
                      "kept up" if s.generator_kept_up else "behind"])
    sched = _table("per scheduler: mean normalised throughput",
                   ["scheduler", "predicted", "measured", "95 % CI", "experiment"])
    for r in v.schedulers:
        sched.add_row(*[r.name, f"{r.predicted:.3f}", f"{r.measured.mean:.3f}",
                       f"{r.measured.low:.3f}–{r.measured.high:.3f}", r.exp_id])
    inst = _table("per instance", ["scheduler", "#", "app", "host", "predicted", "measured"])
    for r in v.schedulers:
        for i in r.instances:
            inst.add_row(*[r.name, str(i.index), i.app, i.host, f"{i.predicted:.3f}",
                          f"{i.measured_mean:.3f}"])
    return [solo, sched, inst]
