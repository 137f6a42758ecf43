"""Scheduler comparison at every cluster size of issue 5 (one command, prints every table).

    .venv/bin/python benchmarks/sched_compare.py [--out DIR] [--sims table,rf]

Runs ``galileo sched compare`` for 81 nodes × 200/300/400 and 729 nodes × 1000/2000/3000
(rows 0-29) with the non-learning schedulers, writing CSV and PNG files to ``--out``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SETTINGS = [(81, 200), (81, 300), (81, 400), (729, 1000), (729, 2000), (729, 3000)]
SCHEDULERS = "round-robin,greedy,paragon,ours"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-results/sched"))
    ap.add_argument("--sims", default="table,rf")
    ap.add_argument("--rows", default="0-29")
    ap.add_argument("--medea-time-limit", default="10")
    args = ap.parse_args()
    galileo = str(Path(sys.executable).with_name("galileo"))
    for sim in args.sims.split(","):
        for nodes, batch in SETTINGS:
            names = SCHEDULERS + (",medea" if (nodes, batch) == (81, 200) else "")
            stem = args.out / f"{sim}-{nodes}-{batch}"
            cmd = [galileo, "sched", "compare", "--nodes", str(nodes), "--batch", str(batch),
                   "--rows", args.rows, "--sim", sim, "--schedulers", names,
                   "--medea-time-limit", args.medea_time_limit,
                   "--csv", f"{stem}.csv", "--plot", f"{stem}.png"]
            print("$", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
