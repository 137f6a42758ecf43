"""Node compositions: how many containers of each of the 7 applications share one node.

A composition is a length-7 count vector with sum <= ``NODE_CAPACITY``. There are C(15, 7) = 6435
of them (the empty one included). Each gets a stable index (``COMPOSITIONS[i]``) and a base-9
``code`` (``sum count[a] * 9**a``) so that a vector of node states can be looked up in O(1) with
one dense ``int32`` array (``CODE_TO_INDEX``; -1 for vectors beyond capacity).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations_with_replacement

import numpy as np
import numpy.typing as npt

APPS = ("Redis", "MMS", "Checksum", "YCSB-A", "YCSB-B", "Scene-Detect", "ISR")
N_APPS = len(APPS)
NODE_CAPACITY = 8
BASE = NODE_CAPACITY + 1
POW = BASE ** np.arange(N_APPS, dtype=np.int64)  # code weight of one container of each app

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@lru_cache(maxsize=1)
def all_compositions() -> IntArray:
    """Every composition (6435 × 7), ordered by total count then lexicographically."""
    rows = [np.zeros(N_APPS, dtype=np.int64)]
    for total in range(1, NODE_CAPACITY + 1):
        for combo in combinations_with_replacement(range(N_APPS), total):
            rows.append(np.bincount(np.array(combo), minlength=N_APPS).astype(np.int64))
    out = np.array(rows, dtype=np.int64)
    out.setflags(write=False)
    return out


def encode(counts: npt.ArrayLike) -> IntArray:
    """Base-9 code of one or many count vectors (last axis = apps)."""
    return np.asarray(counts, dtype=np.int64) @ POW


@lru_cache(maxsize=1)
def code_to_index() -> npt.NDArray[np.int32]:
    """Dense map code -> composition index (-1 where the vector exceeds node capacity)."""
    table = np.full(BASE**N_APPS, -1, dtype=np.int32)
    comps = all_compositions()
    table[encode(comps)] = np.arange(len(comps), dtype=np.int32)
    table.setflags(write=False)
    return table


def index_of(counts: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Composition index of each count vector; -1 for vectors that do not fit on a node."""
    arr = np.asarray(counts, dtype=np.int64)
    bad = ((arr < 0) | (arr > NODE_CAPACITY)).any(-1)
    idx = code_to_index()[encode(np.clip(arr, 0, NODE_CAPACITY))]
    return np.where(bad, -1, idx).astype(np.int32)
