"""27-node sub-scheduler (3-level ternary policy tree) vs round-robin and greedy.

    .venv/bin/python benchmarks/sched_subscheduler.py [--sim table] [--budget 1.0] [--rows 10]

Trains the Metis sub-schedulers (3 container-count ranges) once, then places batches of
20/60/100/150/200 containers (``multinomial(N, [1/7]*7)``, fixed seed) on 27 nodes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from galileo.scheduling.data import synthetic_batches
from galileo.scheduling.dataset import load_dataset
from galileo.scheduling.schedulers import Cluster, Context
from galileo.scheduling.schedulers.heuristics import Greedy, RoundRobin
from galileo.scheduling.schedulers.subsched import SubSchedulers
from galileo.settings import Settings

SIZES = (20, 60, 100, 150, 200)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", default="table")
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--rows", type=int, default=10)
    ap.add_argument("--checkpoint-dir", type=Path, default=None)
    args = ap.parse_args()
    settings = Settings.from_env()
    ds = load_dataset(Path(settings.sched_data_dir), cache_dir=settings.data_dir / "sched-cache")
    ctx = Context(ds.sim(args.sim), ds.rules, budget=args.budget,
                  checkpoint_dir=args.checkpoint_dir)
    subs = SubSchedulers(27, 8, ctx)
    t0 = time.monotonic()
    subs.train()
    print(f"sub-schedulers trained in {time.monotonic() - t0:.1f} s ({args.sim} sim)")
    cluster, sim = Cluster(27), ctx.sim
    print(f"{'N':>5} {'round-robin':>12} {'greedy':>8} {'sub-sched':>10}")
    for n in SIZES:
        batches = synthetic_batches(n, args.rows, seed=27 + n)
        rr = np.mean([sim.throughput(RoundRobin(ctx).place(b, cluster)) for b in batches])
        gr = np.mean([sim.throughput(Greedy(ctx).place(b, cluster)) for b in batches])
        sub = np.mean([sim.throughput(p) for p in subs.place_many(batches)])
        print(f"{n:>5} {rr:>12.4f} {gr:>8.4f} {sub:>10.4f}")


if __name__ == "__main__":
    main()
