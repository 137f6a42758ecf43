"""A small complete interference table for the lab placement tests: three apps, kv (A),
checksum (B) and ycsb (C); A next to B is terrible, A next to C is fine."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np

COLUMNS = {"kv": 0, "checksum": 2, "ycsb": 3}
# slowdown of the row app per container of the column app (itself: per other container)
INTERFERENCE = {("kv", "kv"): 0.1, ("kv", "checksum"): 3.0, ("kv", "ycsb"): 0.05,
                ("checksum", "kv"): 3.0, ("checksum", "checksum"): 0.2,
                ("checksum", "ycsb"): 0.3, ("ycsb", "kv"): 0.05,
                ("ycsb", "checksum"): 0.3, ("ycsb", "ycsb"): 0.1}


def write_abc_table(path: Path, capacity: int = 4) -> Path:
    """Every composition of up to ``capacity`` containers of the three apps, in the Metis
    format (9 columns, NaN where an app is absent, rps normalised to the app alone)."""
    rows, rates = [], []
    names = list(COLUMNS)
    for counts in product(range(capacity + 1), repeat=3):
        if not 0 < sum(counts) <= capacity:
            continue
        alloc = np.zeros(9, dtype=np.int64)
        rps = np.full(9, np.nan)
        for a, n in zip(names, counts, strict=True):
            if not n:
                continue
            alloc[COLUMNS[a]] = n
            load = sum(INTERFERENCE[(a, b)] * (m - (a == b)) for b, m in zip(names, counts,
                                                                             strict=True))
            rps[COLUMNS[a]] = 1.0 / (1.0 + load)
        rows.append(alloc)
        rates.append(rps)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, alloc=np.array(rows), rps=np.array(rates))
    return path
