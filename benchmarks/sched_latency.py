"""Scheduling latency of ``ours`` (and greedy) for 3,000 containers on 729 nodes.

    .venv/bin/python benchmarks/sched_latency.py [--rows 10] [--sim table]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from galileo.scheduling.dataset import load_dataset
from galileo.scheduling.schedulers import Cluster, Context, make_scheduler
from galileo.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10)
    ap.add_argument("--sim", default="table")
    args = ap.parse_args()
    ds = load_dataset(Path(Settings.from_env().sched_data_dir))
    ctx = Context(ds.sim(args.sim), ds.rules)
    cluster = Cluster(729)
    for name in ("greedy", "ours"):
        s = make_scheduler(name, ctx)
        lat, tput = [], []
        for batch in ds.batches(3000)[: args.rows]:
            t0 = time.perf_counter()
            p = s.place(batch, cluster)
            lat.append(time.perf_counter() - t0)
            tput.append(ctx.sim.throughput(p))
        print(f"{name:<8} tput {np.mean(tput):.4f}  latency mean {np.mean(lat):.3f} s  "
              f"max {np.max(lat):.3f} s")


if __name__ == "__main__":
    main()
