"""Train the Metis 27-node sub-schedulers (3 container-count ranges) for both simulators.

    .venv/bin/python scripts/train_subschedulers.py [--data-dir DIR]
        [--budget 1.0] [--seed 0] [--out src/galileo/scheduling/weights]

Writes one ``sub27-<lo>-<hi>-<sim digest>-<seed>.npz`` per range and simulator (a few hundred
kB in total); ``galileo sched compare`` loads them instead of training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from galileo.scheduling.data import METIS_DATA_DIR
from galileo.scheduling.dataset import load_dataset
from galileo.scheduling.schedulers import Context
from galileo.scheduling.schedulers.subsched import WEIGHTS_DIR, SubSchedulers
from galileo.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=METIS_DATA_DIR)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sims", default="table,rf")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = ap.parse_args()
    ds = load_dataset(args.data_dir, cache_dir=Settings.from_env().data_dir / "sched-cache")
    for sim in args.sims.split(","):
        ctx = Context(ds.sim(sim), ds.rules, seed=args.seed, budget=args.budget,
                      checkpoint_dir=args.out)
        subs = SubSchedulers(27, 8, ctx)
        t0 = time.monotonic()
        subs.train()
        print(f"{sim}: trained in {time.monotonic() - t0:.1f} s; validation tput per range "
              + ", ".join(f"{lo}-{hi}: {v:.4f}" for (lo, hi), v in zip(subs.ranges, subs.valid,
                                                                      strict=True)), flush=True)


if __name__ == "__main__":
    main()
