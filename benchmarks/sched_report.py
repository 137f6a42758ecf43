"""Markdown tables for docs/scheduling-results.md from the CSVs of ``sched_compare.py``.

    .venv/bin/python benchmarks/sched_report.py [--out bench-results/sched]

Per protocol (fair, oracle) and part (heuristics, rl): one table of mean ± std throughput on
the scoring simulator, violating containers, Medea slack and latency per scheduler and setting,
then ours against greedy row by row (rows where ours is below greedy are listed).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

SETTINGS = [(27, 100), (81, 200), (81, 400), (729, 2000)]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def table(out: Path, part: str, protocol: str) -> list[str]:
    """One markdown table: a line per setting and scheduler."""
    lines = ["| nodes / batch | rows | scheduler | tput (mean ± std) | planned tput | violating "
             "containers | Medea slack | latency (s) | train (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for nodes, batch in SETTINGS:
        path = out / f"{part}-{protocol}-{nodes}-{batch}.csv"
        if not path.is_file():
            lines.append(f"| {nodes} / {batch} | — | *not run* | | | | | | |")
            continue
        rows = _read(path.with_name(f"{path.stem}-rows.csv"))
        ids = sorted({int(r["row"]) for r in rows})
        span = f"{ids[0]}–{ids[-1]}" if len(ids) > 1 else str(ids[0])
        for r in _read(path):
            lines.append(f"| {nodes} / {batch} | {span} | {r['scheduler']} | {r['mean_tput']} ± "
                         f"{r['std_tput']} | {r['plan_tput']} | {r['violating_containers']} | "
                         f"{r['weighted_slack']} | {r['latency_s']} | {r['train_s']} |")
    return lines


def ours_vs_greedy(out: Path, part: str, protocol: str) -> list[str]:
    """Per setting: rows where ours scores below greedy, and the mean difference."""
    lines = []
    for nodes, batch in SETTINGS:
        path = out / f"{part}-{protocol}-{nodes}-{batch}-rows.csv"
        if not path.is_file():
            continue
        by: dict[str, dict[int, float]] = defaultdict(dict)
        for r in _read(path):
            by[r["scheduler"]][int(r["row"])] = float(r["score_tput"])
        if "ours" not in by or "greedy" not in by:
            continue
        diff = {k: by["ours"][k] - by["greedy"][k] for k in by["ours"]}
        below = [f"{k} ({d:+.4f})" for k, d in sorted(diff.items()) if d < -1e-9]
        mean = sum(diff.values()) / len(diff)
        lines.append(f"- {nodes} / {batch}: ours − greedy {mean:+.4f} on average over "
                     f"{len(diff)} rows; below greedy on: {', '.join(below) or 'no row'}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-results/sched"))
    args = ap.parse_args()
    for part in ("heuristics", "rl"):
        for protocol in ("fair", "oracle"):
            print(f"\n### {part}, {protocol} protocol\n")
            print("\n".join(table(args.out, part, protocol)))
            print()
            print("\n".join(ours_vs_greedy(args.out, part, protocol)))


if __name__ == "__main__":
    main()
