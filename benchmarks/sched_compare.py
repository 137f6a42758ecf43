"""The full scheduler sweep of issue 5 (the commands behind docs/scheduling-results.md).

    .venv/bin/python benchmarks/sched_compare.py [--out DIR] [--sims table,rf] [--parts ...]

Runs ``galileo sched compare`` for 81 nodes × 200/300/400 and 729 nodes × 1000/2000/3000 under
each simulator, writing one CSV (and for the RL part a PNG with training curves) per call:

* ``heuristics``: round-robin, greedy, ours, paragon — rows 0-29;
* ``medea``: 5 s HiGHS limit — rows 0-29 on 81 nodes, 0-9 on 729 nodes;
* ``rl``: greedy, vanilla-rl, dc, metis — rows 0-9 on 81 nodes, 0-2 on 729 nodes (vanilla-rl
  there with ``--budget 0.1``: its flat 729-way policy is slow to train).

It takes about an hour on a shared 2-core machine; run it with ``nohup … > log &``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SETTINGS = [(81, 200), (81, 300), (81, 400), (729, 1000), (729, 2000), (729, 3000)]


def commands(part: str, nodes: int, batch: int) -> list[list[str]]:
    """The ``sched compare`` argument lists of one part for one setting (CSV/plot added later)."""
    base = ["--nodes", str(nodes), "--batch", str(batch)]
    big = nodes > 81
    if part == "heuristics":
        return [[*base, "--rows", "0-29", "--schedulers", "round-robin,greedy,ours,paragon"]]
    if part == "medea":
        return [[*base, "--rows", "0-9" if big else "0-29", "--schedulers", "medea",
                 "--medea-time-limit", "5"]]
    rows = ["--rows", "0-2" if big else "0-9"]
    if not big:
        return [base + rows + ["--schedulers", "greedy,vanilla-rl,dc,metis"]]
    return [base + rows + ["--schedulers", "greedy,dc,metis"],
            base + rows + ["--schedulers", "vanilla-rl", "--budget", "0.1"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-results/sched"))
    ap.add_argument("--sims", default="table,rf")
    ap.add_argument("--parts", default="heuristics,medea,rl")
    args = ap.parse_args()
    galileo = str(Path(sys.executable).with_name("galileo"))
    for part in args.parts.split(","):
        for sim in args.sims.split(","):
            for nodes, batch in SETTINGS:
                for i, cmd in enumerate(commands(part, nodes, batch)):
                    stem = args.out / f"{part}{i or ''}-{sim}-{nodes}-{batch}"
                    full = ["sched", "compare", *cmd, "--sim", sim, "--csv", f"{stem}.csv"]
                    if part == "rl":
                        full += ["--plot", f"{stem}.png"]
                    print("$ galileo", " ".join(full), flush=True)
                    subprocess.run([galileo, *full], check=True)


if __name__ == "__main__":
    main()
