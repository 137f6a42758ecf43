"""A seeded synthetic interference model, for tests and demos without the Metis data.

Model (per-container normalised throughput of app ``a`` on a node holding counts ``n``)::

    rps_a(n) = boost_a(n) * prod_b (1 - d[a, b]) ** (n_b - [a == b]) * crowd(sum n) * noise

* ``d[a, b]`` ~ U(0, 0.18): slowdown each extra co-located container of ``b`` causes to ``a``;
* ``boost_a(n) = 1 + g_a`` when a cache app (index 0, "Redis") shares the node and ``a`` is one of
  the cache users (1, 2, 6), with ``g_a`` ~ U(0.3, 1.5) — the Redis-next-to-MMS effect;
* ``crowd(t) = 1 - 0.04 * max(0, t - 4)``: every container beyond 4 costs 4 % more;
* ``noise`` ~ lognormal(0, 0.02); results are clipped to [0.1, 2.5].

The same seed always yields the same table, 20 % training sample, rules and batches.
"""

from __future__ import annotations

import numpy as np

from galileo.scheduling.compositions import N_APPS, all_compositions
from galileo.scheduling.data import InterferenceTable

CACHE_APP = 0
CACHE_USERS = (1, 2, 6)
TRAIN_FRACTION = 0.2


def synthetic_rps(counts: np.ndarray, seed: int) -> np.ndarray:
    """Per-container rps (rows × 7; 0 where an app is absent) of the model with ``seed``."""
    rng = np.random.default_rng(seed)
    slow = rng.uniform(0.0, 0.18, size=(N_APPS, N_APPS))
    gain = np.zeros(N_APPS)
    gain[list(CACHE_USERS)] = rng.uniform(0.3, 1.5, size=len(CACHE_USERS))
    n = np.asarray(counts, dtype=np.float64)
    others = n[:, None, :] - np.eye(N_APPS)[None]  # rows × a × b: co-located count seen by a
    factor = np.prod((1.0 - slow[None]) ** np.clip(others, 0, None), axis=2)
    boost = 1.0 + gain[None, :] * (n[:, [CACHE_APP]] > 0)
    crowd = 1.0 - 0.04 * np.clip(n.sum(1, keepdims=True) - 4, 0, None)
    noise = np.exp(np.random.default_rng(seed + 1).normal(0.0, 0.02, size=n.shape))
    rps = np.clip(factor * boost * crowd * noise, 0.1, 2.5)
    return np.where(n > 0, rps, 0.0)


def synthetic_tables(seed: int = 0) -> tuple[InterferenceTable, InterferenceTable]:
    """The complete synthetic table (6434 non-empty compositions) and a 20 % noisy sample."""
    comps = all_compositions()[1:]
    full = InterferenceTable(comps.copy(), synthetic_rps(comps, seed), source=f"synthetic:{seed}")
    rng = np.random.default_rng(seed + 2)
    pick = rng.choice(len(comps), size=int(TRAIN_FRACTION * len(comps)), replace=False)
    noisy = full.rps[pick] * np.exp(rng.normal(0.0, 0.03, size=(len(pick), N_APPS)))
    train = InterferenceTable(comps[pick].copy(), noisy, source=f"synthetic:{seed}:20%")
    return full, train
