"""The Metis-format profile: ``.npz`` with ``alloc``, ``rps``, ``rt_50``, ``rt_99`` (9 columns,
first 7 used, NaN where ``alloc == 0``, latencies in seconds as Python floats in object arrays)
and the pairwise rules ``interference_applist.csv`` (``app_s,app_c,less_or_lager,threshold``,
apps numbered 1..7, the Metis header spelling kept so the same loader reads both)."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from galileo.profiling.apps import METIS_COLUMNS, ProfileApp
from galileo.profiling.measure import Measurement

TOLERANCE: Final = 0.10  # a change beyond ±10 % of solo throughput makes a rule
RULES_HEADER: Final = ("app_s", "app_c", "less_or_lager", "threshold")


@dataclass(frozen=True)
class Row:
    """One measured composition: counts per app (profile order) and each app's mean
    per-container measurement."""

    counts: tuple[int, ...]
    results: Mapping[int, Measurement]  # app index -> mean over its containers


def to_arrays(apps: Sequence[ProfileApp], rows: Sequence[Row]) -> dict[str, Any]:
    """``alloc``/``rps``/``rt_50``/``rt_99`` with throughput normalised by each app's solo row."""
    solo: dict[int, float] = {}
    for row in rows:
        if sum(row.counts) == 1:
            i = row.counts.index(1)
            solo[i] = row.results[i].rps
    n = len(rows)
    alloc = np.zeros((n, METIS_COLUMNS), np.int64)
    rps = np.full((n, METIS_COLUMNS), np.nan)
    rt_50 = np.full((n, METIS_COLUMNS), np.nan, dtype=object)
    rt_99 = np.full((n, METIS_COLUMNS), np.nan, dtype=object)
    for r, row in enumerate(rows):
        for i, count in enumerate(row.counts):
            if not count:
                continue
            col = apps[i].column
            m = row.results[i]
            alloc[r, col] = count
            base = solo.get(i, 0.0)
            rps[r, col] = m.rps / base if base > 0 else np.nan
            rt_50[r, col] = float(m.p50_s)
            rt_99[r, col] = float(m.p99_s)
    return {"alloc": alloc, "rps": rps, "rt_50": rt_50, "rt_99": rt_99}


def derive_rules(apps: Sequence[ProfileApp], rows: Sequence[Row],
                 arrays: Mapping[str, Any]) -> list[tuple[int, int, int, int, list[float]]]:
    """Pairwise rules as Metis derives them: 1 container of s plus k = 0.. of c, rps of s
    relative to s alone; a drop below 90 % gives an at-most rule (threshold = the last k before
    the drop; counting s itself when c == s), else a rise above 110 % an at-least-1 rule.
    Returns (app_s, app_c, less_or_lager, threshold, ratios) with Metis app numbers (1-based)."""
    index = {row.counts: r for r, row in enumerate(rows)}
    rules = []
    k_apps = len(apps)
    for s in range(k_apps):
        for c in range(k_apps):
            ratios: list[float] = []
            for k in range(0, 64):
                counts = [0] * k_apps
                counts[s] += 1
                counts[c] += k
                r = index.get(tuple(counts))
                value = arrays["rps"][r, apps[s].column] if r is not None else math.nan
                if r is None or not math.isfinite(value):
                    break
                ratios.append(float(value))
            if len(ratios) < 2:
                continue
            rel = [v / ratios[0] for v in ratios]
            drop = next((k for k, v in enumerate(rel) if v < 1 - TOLERANCE), None)
            if drop is not None:
                last = drop - 1
                rules.append((apps[s].column + 1, apps[c].column + 1, 0,
                              last + 1 if s == c else last, rel))
            elif any(v > 1 + TOLERANCE for v in rel):
                rules.append((apps[s].column + 1, apps[c].column + 1, 1, 1, rel))
    return rules


def write(out_dir: Path, name: str, apps: Sequence[ProfileApp],
          rows: Sequence[Row]) -> tuple[Path, Path]:
    """Write ``<name>.npz`` and ``interference_applist.csv`` (+ ``interference_rpslist.csv``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = to_arrays(apps, rows)
    npz = out_dir / f"{name}.npz"
    np.savez(npz, **arrays)
    rules = derive_rules(apps, rows, arrays)
    applist = out_dir / "interference_applist.csv"
    with applist.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(RULES_HEADER)
        writer.writerows(rule[:4] for rule in rules)
    width = max((len(r[4]) for r in rules), default=1)
    with (out_dir / "interference_rpslist.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(range(width))
        writer.writerows([*(f"{v:.4f}" for v in r[4]), *([""] * (width - len(r[4])))]
                         for r in rules)
    return npz, applist
