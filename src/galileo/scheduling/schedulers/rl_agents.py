"""Policy-gradient schedulers: Vanilla RL, Divide-and-Conquer (DC) and Metis.

* **vanilla-rl**: one flat agent choosing among all nodes for every container.
* **dc**: a high-level agent splits the batch over sub-clusters (27 nodes each when the cluster
  allows), the same frozen sub-schedulers as Metis place each part; plain REINFORCE, no tricks.
* **metis**: the same hierarchy, with sub-schedulers that are 3-level ternary trees trained per
  container-count range, heuristic demonstrations (greedy split and perturbations, even split)
  for the first updates, an optimal-episode buffer replayed every update, and at placement time
  the best of the policy's rollouts, the demonstrations and the buffer (as Metis keeps its best).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from galileo.scheduling.compositions import N_APPS, IntArray, index_of
from galileo.scheduling.schedulers.base import Cluster, Context, Scheduler
from galileo.scheduling.schedulers.heuristics import Greedy
from galileo.scheduling.schedulers.policy import TreePolicy, sequences
from galileo.scheduling.schedulers.subsched import SubSchedulers, sub_cluster_size, tree_branching
from galileo.scheduling.schedulers.training import GROUP, Run, train

VANILLA_UPDATES = 150
HIGH_UPDATES = 100
DEMO_UPDATES = 4  # 32 demonstration episodes (upstream: 31)
BUFFER_WEIGHT = 1.0
PLACE_SAMPLES = 16


class VanillaRL(Scheduler):
    """One flat policy over all nodes (trained on the batches it will place)."""

    name = "vanilla-rl"

    def fit(self, cluster: Cluster, batches: IntArray) -> None:
        self.policy = TreePolicy((cluster.n_nodes,), cluster.capacity, self.ctx.seed)
        sim = self.ctx.sim

        def reward(counts: IntArray, row: int) -> np.ndarray:
            return np.asarray(sim.node_tput[index_of(counts)].sum(1) / batches[row].sum())

        ckpt = self._checkpoint(cluster, batches)
        run = Run(self.policy, batches, reward, max(1, int(VANILLA_UPDATES * self.ctx.budget)),
                  self.ctx.seed, self.curve, self.ctx.progress, ckpt)
        run.slot_value = lambda c: np.asarray(sim.node_tput[index_of(c)])
        self.train_s = train(run)

    def _checkpoint(self, cluster: Cluster, batches: IntArray) -> Path | None:
        if self.ctx.checkpoint_dir is None:
            return None
        tag = f"{self.name}-{cluster.n_nodes}-{int(batches.sum(1).max())}-{self.ctx.sim.name}"
        return self.ctx.checkpoint_dir / f"{tag}-{self.ctx.seed}.npz"

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        if not hasattr(self, "policy"):
            self.fit(cluster, np.asarray(batch)[None])
        counts, _ = self.policy.rollout(sequences(np.asarray(batch)[None]), None)
        return np.asarray(counts[0], dtype=np.int64)


class DivideConquer(VanillaRL):
    """High-level agent over sub-clusters + frozen sub-schedulers; plain REINFORCE."""

    name = "dc"
    use_tricks = False

    def fit(self, cluster: Cluster, batches: IntArray) -> None:
        t0 = time.monotonic()
        size = sub_cluster_size(cluster.n_nodes)
        self.k = cluster.n_nodes // size
        self.subs = SubSchedulers(size, cluster.capacity, self.ctx)  # shared, frozen once trained
        self.subs.train()
        self.high = TreePolicy((self.k,), size * cluster.capacity, self.ctx.seed + 100)
        self.policy = self.high
        self.best: dict[int, tuple[float, IntArray]] = {}
        self.batches = np.asarray(batches)
        run = Run(self.high, self.batches, self._reward, max(1, int(HIGH_UPDATES *
                  self.ctx.budget)), self.ctx.seed, self.curve, self.ctx.progress,
                  self._checkpoint(cluster, batches))
        if self.use_tricks:
            run.forced = self._demos
            run.after = self._buffer
        train(run)
        self.train_s = time.monotonic() - t0

    def _reward(self, alloc: IntArray, row: int) -> np.ndarray:
        return np.asarray(self.evaluate(alloc) / self.batches[row].sum(), dtype=np.float64)

    def evaluate(self, alloc: IntArray) -> np.ndarray:
        """Total node throughput of each allocation (episodes × sub-clusters × 7)."""
        placed = self.subs.place_many(alloc.reshape(-1, N_APPS))
        tput = self.ctx.sim.node_tput[index_of(placed)].sum(1)
        return np.asarray(tput.reshape(alloc.shape[0], -1).sum(1))

    def _placement(self, alloc: IntArray) -> IntArray:
        return np.asarray(self.subs.place_many(alloc).reshape(-1, N_APPS), dtype=np.int64)

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        if not hasattr(self, "high"):
            self.fit(cluster, np.asarray(batch)[None])
        alloc, _ = self.high.rollout(sequences(np.asarray(batch)[None]), None)
        return self._placement(alloc[0])

    # Metis' tricks (unused by plain DC) ------------------------------------------------
    def _demos(self, update: int, row: int) -> IntArray | None:
        if update >= DEMO_UPDATES:
            return None
        allocs = demonstrations(self.batches[row], self.k, self.subs.size, self.ctx,
                                GROUP, self.ctx.seed + update)
        return np.stack([alloc_to_actions(a) for a in allocs])

    def _buffer(self, update: int, row: int, rewards: np.ndarray, actions: IntArray) -> None:
        i = int(np.argmax(rewards))
        if row not in self.best or rewards[i] > self.best[row][0]:
            self.best[row] = (float(rewards[i]), actions[i].copy())
        best_r, best_a = self.best[row]
        weight = BUFFER_WEIGHT if best_r > rewards.mean() else 0.0
        if weight:
            seqs = sequences(self.batches[row: row + 1])
            _, trace = self.high.rollout(seqs, None, best_a[None])
            self.high.learn(trace, np.array([weight]))


class Metis(DivideConquer):
    """DC plus per-range ternary sub-schedulers, demonstrations and the optimal-episode buffer."""

    name = "metis"
    use_tricks = True

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        b = np.asarray(batch)
        if not hasattr(self, "high"):
            self.fit(cluster, b[None])
        seqs = sequences(b[None])
        rng = np.random.default_rng(self.ctx.seed)
        cands = [self.high.rollout(seqs, None)[0][0]]
        cands += list(self.high.rollout(sequences(b[None], PLACE_SAMPLES), rng)[0])
        cands += demonstrations(b, self.k, self.subs.size, self.ctx, 4, self.ctx.seed)
        labels = ["policy"] + ["sample"] * PLACE_SAMPLES + ["demo:even", "demo:greedy",
                                                           "demo:perturbed", "demo:perturbed"]
        for row, (_, actions) in self.best.items():
            if np.array_equal(self.batches[row], b):
                cands.append(actions_to_alloc(actions, b, self.k))
                labels.append("buffer")
        allocs = np.stack(cands)
        best = int(np.argmax(self.evaluate(allocs)))
        self.last_note = labels[best]
        return self._placement(allocs[best])


def alloc_to_actions(alloc: IntArray) -> IntArray:
    """Sub-cluster index of each container in arrival order (apps sorted), from counts K × 7."""
    return np.concatenate([np.repeat(np.arange(len(alloc)), alloc[:, a]) for a in range(N_APPS)])


def actions_to_alloc(actions: IntArray, batch: IntArray, k: int) -> IntArray:
    """Inverse of :func:`alloc_to_actions`."""
    apps = np.repeat(np.arange(N_APPS), batch)
    alloc = np.zeros((k, N_APPS), dtype=np.int64)
    np.add.at(alloc, (actions[: len(apps)], apps), 1)
    return alloc


def even_split(batch: IntArray, k: int) -> IntArray:
    """Round-robin over sub-clusters in arrival order (upstream's heuristic demonstration)."""
    apps = np.repeat(np.arange(N_APPS), np.asarray(batch, dtype=np.int64))
    alloc = np.zeros((k, N_APPS), dtype=np.int64)
    np.add.at(alloc, (np.arange(len(apps)) % k, apps), 1)
    return alloc


def demonstrations(batch: IntArray, k: int, size: int, ctx: Context, n: int,
                   seed: int) -> list[IntArray]:
    """Heuristic splits of ``batch`` over ``k`` sub-clusters: even (round-robin), the greedy
    placement's split, and perturbations of the greedy split."""
    cluster = Cluster(k * size)
    greedy = Greedy(ctx).place(batch, cluster).reshape(k, size, N_APPS).sum(1)
    out = [even_split(batch, k), greedy]
    rng = np.random.default_rng(seed)
    cap = size * cluster.capacity
    while len(out) < n:
        alloc = greedy.copy()
        for _ in range(rng.integers(1, 6)):
            a = int(rng.integers(N_APPS))
            src = np.flatnonzero(alloc[:, a] > 0)
            dst = np.flatnonzero(alloc.sum(1) < cap)
            if len(src) and len(dst):
                s, d = int(rng.choice(src)), int(rng.choice(dst))
                alloc[s, a] -= 1
                alloc[d, a] += 1
        out.append(alloc)
    return out[:n]


__all__ = ["DivideConquer", "Metis", "VanillaRL", "tree_branching"]
