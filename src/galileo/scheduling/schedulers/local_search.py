"""Steepest-descent local search over moves and swaps, maximising a per-composition value
(e.g. a simulator's node throughput).

A move (app ``a`` from node ``i`` to node ``j``) or a swap (``a`` from ``i`` to ``j`` and ``b``
back) changes only two nodes, and its gain splits into a part that depends on ``i`` and a part
that depends on ``j``. So the best move/swap for each app pair is found in O(nodes) with numpy:
``max_i f[i] + max_{j != i} g[j]``. Each step applies the best of the 56 pair types.
"""

from __future__ import annotations

import numpy as np

from galileo.scheduling.compositions import N_APPS, POW, FloatArray, IntArray, code_to_index
from galileo.scheduling.schedulers.base import Cluster

MAX_STEPS = 5000
MIN_GAIN = 1e-9


def improve(placement: IntArray, values: FloatArray, cluster: Cluster,
            max_steps: int = MAX_STEPS) -> IntArray:
    """Apply the best improving move/swap until none is left or after ``max_steps`` steps
    (a step budget, not a deadline, so the result does not depend on machine load)."""
    p = np.asarray(placement, dtype=np.int64).copy()
    for _ in range(max_steps):
        best = _best_step(p, values, cluster)
        if best is None:
            break
        i, j, a, b = best
        p[i, a] -= 1
        p[j, a] += 1
        if b >= 0:
            p[j, b] -= 1
            p[i, b] += 1
    return p


def _tput_after(codes: IntArray, delta: int, valid: np.ndarray, values: FloatArray) -> np.ndarray:
    idx = code_to_index()[np.where(valid, codes + delta, 0)]
    out = np.where(valid & (idx >= 0), values[np.maximum(idx, 0)], -np.inf)
    return np.asarray(out)


def _best_step(p: IntArray, values: FloatArray,
               cluster: Cluster) -> tuple[int, int, int, int] | None:
    codes = p @ POW
    now = values[code_to_index()[codes]]
    room = p.sum(1) < cluster.capacity
    best_gain, best = MIN_GAIN, None
    for a in range(N_APPS):
        has_a = p[:, a] > 0
        for b in range(-1, N_APPS):
            if b == a:
                continue
            if b < 0:  # move: i loses a, j gains a
                f = _tput_after(codes, -int(POW[a]), has_a, values) - now
                g = _tput_after(codes, int(POW[a]), room, values) - now
            else:  # swap: i gives a gets b, j gives b gets a
                d = int(POW[b] - POW[a])
                f = _tput_after(codes, d, has_a, values) - now
                g = _tput_after(codes, -d, p[:, b] > 0, values) - now
            gain, i, j = _max_pair(f, g)
            if gain > best_gain:
                best_gain, best = gain, (i, j, a, b)
    return best


def _max_pair(f: np.ndarray, g: np.ndarray) -> tuple[float, int, int]:
    """max over i != j of f[i] + g[j]."""
    i = int(np.argmax(f))
    g_i = g[i]
    g[i] = -np.inf
    j = int(np.argmax(g))
    best = (float(f[i] + g[j]), i, j)
    g[i] = g_i
    j2 = int(np.argmax(g))
    if j2 == i:  # the alternative: best j, second-best i
        f_j = f[j2]
        f[j2] = -np.inf
        i2 = int(np.argmax(f))
        f[j2] = f_j
        if f[i2] + g[j2] > best[0]:
            best = (float(f[i2] + g[j2]), i2, j2)
    return best
