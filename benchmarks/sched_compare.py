"""The scheduler sweep behind docs/scheduling-results.md (issue 12).

    nice -n 10 .venv/bin/python benchmarks/sched_compare.py [--out DIR] [--parts ...]
        [--protocols fair,oracle] [--settings 81/200,...]

Runs ``galileo sched compare`` per setting and protocol, one CSV (+ ``-rows.csv``) per call:

* protocols: ``fair`` = ``--plan-sim rf --score-sim table`` (the headline), ``oracle`` =
  ``--plan-sim table --score-sim table``;
* ``heuristics``: round-robin, greedy, paragon, medea, ours;
* ``rl``: vanilla-rl (27 and 81 nodes only), dc, metis, metis-pg — all placing with the same
  rule (best of argmax + 16 samples judged by the planning simulator).

Every budget is deterministic (ILP branch-and-bound nodes, RL updates), so a re-run gives the
same throughput figures on any machine; only the latency columns depend on machine load.
Rows per setting are in :data:`ROWS` and RL runs with :data:`RL_BUDGET`, both reduced to fit a
shared 2-core machine. Finished settings (their CSV exists) are skipped unless ``--again``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SETTINGS = [(27, 100), (81, 200), (81, 400), (729, 2000)]
PROTOCOLS = {"fair": ("rf", "table"), "oracle": ("table", "table")}
ROWS = {  # (heuristics rows, rl rows)
    (27, 100): ("0-9", "0-2"), (81, 200): ("0-9", "0"), (81, 400): ("0-9", "0-1"),
    (729, 2000): ("0-1", "0"),
}
HEURISTICS = "round-robin,greedy,paragon,medea,ours"
RL_BUDGET = "0.2"  # a fifth of every RL training budget (CPU: 2 cores shared by ~8 people)


def command(part: str, nodes: int, batch: int) -> list[str]:
    """The ``sched compare`` arguments of one part for one setting (sims/CSV added later)."""
    heur_rows, rl_rows = ROWS[(nodes, batch)]
    base = ["--nodes", str(nodes), "--batch", str(batch)]
    if part == "heuristics":
        return [*base, "--rows", heur_rows, "--schedulers", HEURISTICS]
    rl = "dc,metis,metis-pg" if nodes > 81 else "vanilla-rl,dc,metis,metis-pg"
    return [*base, "--rows", rl_rows, "--schedulers", f"greedy,ours,{rl}", "--budget", RL_BUDGET]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-results/sched"))
    ap.add_argument("--parts", default="heuristics,rl")
    ap.add_argument("--protocols", default="fair,oracle")
    ap.add_argument("--settings", default=",".join(f"{n}/{b}" for n, b in SETTINGS))
    ap.add_argument("--data-dir", help="Metis data (default: the data shipped with Galileo)")
    ap.add_argument("--again", action="store_true", help="re-run settings whose CSV exists")
    args = ap.parse_args()
    galileo = str(Path(sys.executable).with_name("galileo"))
    settings = [tuple(int(x) for x in s.split("/")) for s in args.settings.split(",")]
    for part in args.parts.split(","):
        for protocol in args.protocols.split(","):
            plan, score = PROTOCOLS[protocol]
            for nodes, batch in settings:
                stem = args.out / f"{part}-{protocol}-{nodes}-{batch}"
                if Path(f"{stem}.csv").is_file() and not args.again:
                    print(f"# {stem}.csv exists, skipped (--again re-runs it)", flush=True)
                    continue
                full = ["sched", "compare", *command(part, nodes, batch), "--plan-sim", plan,
                        "--score-sim", score,
                        *(["--data-dir", args.data_dir] if args.data_dir else []),
                        "--checkpoint-dir", str(args.out / "checkpoints"),
                        "--csv", f"{stem}.csv"]
                if part == "rl":
                    full += ["--plot", f"{stem}.png"]
                print("$ galileo", " ".join(full), flush=True)
                subprocess.run([galileo, *full], check=True)


if __name__ == "__main__":
    main()
