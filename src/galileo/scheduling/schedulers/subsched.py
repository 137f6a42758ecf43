"""Sub-schedulers: tree policies that place a sub-cluster's share of the batch on its nodes.

Metis trains one sub-scheduler per container-count range (a 27-node sub-cluster is a 3-level
ternary tree: 3 groups of 9 → 3 groups of 3 → a node). Trained weights are cached under the
context's checkpoint directory (or ``galileo/scheduling/weights``) and reused.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from galileo.scheduling.compositions import N_APPS, IntArray, index_of
from galileo.scheduling.schedulers.base import Context
from galileo.scheduling.schedulers.policy import TreePolicy, sequences
from galileo.scheduling.schedulers.training import Run, train

SUB_CLUSTER_NODES = 27
SUB_UPDATES = 120
TRAIN_BATCHES = 32
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def tree_branching(n: int) -> tuple[int, ...]:
    """``(3, 3, 3)`` for 27 nodes (any power of 3 ≥ 3); a flat ``(n,)`` otherwise."""
    levels, m = 0, n
    while m > 1 and m % 3 == 0:
        m //= 3
        levels += 1
    return (3,) * levels if m == 1 and levels else (n,)


def sub_cluster_size(n_nodes: int) -> int:
    """27 when the cluster splits into several 27-node sub-clusters, else a third (or all)."""
    if n_nodes % SUB_CLUSTER_NODES == 0 and n_nodes > SUB_CLUSTER_NODES:
        return SUB_CLUSTER_NODES
    return n_nodes // 3 if n_nodes % 3 == 0 and n_nodes >= 6 else n_nodes


class SubSchedulers:
    """One tree policy per container-count range for sub-clusters of ``size`` nodes."""

    def __init__(self, size: int, capacity: int, ctx: Context, ranges: int = 3) -> None:
        self.size, self.capacity, self.ctx = size, capacity, ctx
        edges = np.linspace(0, size * capacity, ranges + 1).astype(int)
        self.ranges = [(int(edges[i]) + 1, int(edges[i + 1])) for i in range(ranges)]
        self.policies = [TreePolicy(tree_branching(size), capacity, ctx.seed + 10 * i)
                         for i in range(ranges)]
        self.train_s = 0.0

    def _path(self, i: int) -> Path | None:
        lo, hi = self.ranges[i]
        name = f"sub{self.size}-{lo}-{hi}-{self.ctx.sim.name}-{self.ctx.seed}.npz"
        shipped = WEIGHTS_DIR / name
        if shipped.is_file():
            return shipped
        return None if self.ctx.checkpoint_dir is None else self.ctx.checkpoint_dir / name

    def train(self) -> float:
        """Train (or resume / load) every range's policy; returns the seconds spent."""
        t0 = time.monotonic()
        sim = self.ctx.sim
        for i, (lo, hi) in enumerate(self.ranges):
            rng = np.random.default_rng(self.ctx.seed + 1000 + i)
            sizes = rng.integers(lo, hi + 1, size=TRAIN_BATCHES)
            batches = np.stack([rng.multinomial(s, [1 / N_APPS] * N_APPS) for s in sizes])

            def reward(counts: IntArray, row: int, b: IntArray = batches) -> np.ndarray:
                return np.asarray(sim.node_tput[index_of(counts)].sum(1) / b[row].sum())

            run = Run(self.policies[i], batches, reward,
                      max(1, int(SUB_UPDATES * self.ctx.budget)), self.ctx.seed + i,
                      self._curve(), None, self._path(i))  # type: ignore[arg-type]
            run.slot_value = lambda c: np.asarray(sim.node_tput[index_of(c)])
            train(run)
        self.train_s = time.monotonic() - t0
        return self.train_s

    def _curve(self) -> object:
        from galileo.scheduling.schedulers.base import TrainingCurve

        return TrainingCurve()

    def place_many(self, batches: IntArray) -> IntArray:
        """Node counts (len(batches) × size × 7) from the matching range's greedy rollout."""
        b = np.asarray(batches, dtype=np.int64)
        totals = b.sum(1)
        out = np.zeros((len(b), self.size, N_APPS), dtype=np.int64)
        for i, (lo, hi) in enumerate(self.ranges):
            rows = np.flatnonzero((totals >= lo) & (totals <= hi))
            if len(rows):
                out[rows] = self.policies[i].rollout(sequences(b[rows]), None)[0]
        return out
