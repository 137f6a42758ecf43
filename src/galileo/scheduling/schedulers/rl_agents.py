"""Policy-gradient schedulers: Vanilla RL, Divide-and-Conquer (DC), Metis and Metis-PG.

* **vanilla-rl**: one flat agent choosing among all nodes for every container.
* **dc**: a high-level agent splits the batch over sub-clusters (27 nodes each when the cluster
  allows), the same frozen sub-schedulers as Metis place each part; plain REINFORCE, no tricks.
* **metis**: hierarchical RL *distilled from greedy*: sub-schedulers (3-level ternary trees per
  container-count range) behaviour-cloned from greedy placements with greedy marginal gains as
  inputs, then fine-tuned by policy gradient; the high level starts from heuristic
  demonstrations (even split, the greedy placement's split and perturbations of it) and replays
  an optimal-episode buffer every update.
* **metis-pg**: the paper's recipe without greedy: sub-schedulers trained by policy gradient
  alone (no cloning, no gain inputs), high-level demonstrations only of the even split.

One selection rule for every learned method (:data:`PLACE_SAMPLES`): the placement is the best of
the policy's argmax rollout and ``PLACE_SAMPLES`` sampled rollouts, judged by the planning
simulator. Demonstrations and the buffer shape Metis' *training* only.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from galileo.scheduling.compositions import N_APPS, IntArray, index_of
from galileo.scheduling.schedulers.base import Cluster, Context, Scheduler, check_fits
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
        b = np.asarray(batch)
        if not hasattr(self, "policy"):
            self.fit(cluster, b[None])
        return self._placement(self._select(b))

    def _select(self, batch: IntArray) -> IntArray:
        """The common rule: best of the argmax rollout and ``PLACE_SAMPLES`` samples."""
        seqs = sequences(batch[None])
        rng = np.random.default_rng(self.ctx.seed)
        cands = np.concatenate([self.policy.rollout(seqs, None)[0],
                                self.policy.rollout(sequences(batch[None], PLACE_SAMPLES),
                                                    rng)[0]])
        best = int(np.argmax(self.evaluate(cands)))
        self.last_note = "argmax" if best == 0 else "sample"
        return np.asarray(cands[best])

    def evaluate(self, alloc: IntArray) -> np.ndarray:
        """Total planned node throughput of each candidate (episodes × slots × 7)."""
        return np.asarray(self.ctx.sim.node_tput[index_of(alloc)].sum(1))

    def _placement(self, alloc: IntArray) -> IntArray:
        return np.asarray(alloc, dtype=np.int64)


class DivideConquer(VanillaRL):
    """High-level agent over sub-clusters + frozen sub-schedulers; plain REINFORCE."""

    name = "dc"
    use_tricks = False
    distilled = True  # sub-schedulers cloned from greedy (see :mod:`subsched`)

    def fit(self, cluster: Cluster, batches: IntArray) -> None:
        t0 = time.monotonic()
        size = sub_cluster_size(cluster.n_nodes)
        self.k = cluster.n_nodes // size
        self.subs = SubSchedulers(size, cluster.capacity, self.ctx,  # frozen once trained
                                  distilled=self.distilled)
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

    def place(self, batch: IntArray, cluster: Cluster,
              initial: IntArray | None = None) -> IntArray:
        """Onto ``initial`` (containers already placed, never moved): one sub-scheduler for the
        whole cluster (:meth:`place_onto`); else the high-level split and the sub-schedulers."""
        b = np.asarray(batch)
        if initial is not None and np.asarray(initial).any():
            return self.place_onto(b, cluster, np.asarray(initial, dtype=np.int64))
        if not hasattr(self, "high"):
            self.fit(cluster, b[None])
        return self._placement(self._select(b))

    def place_onto(self, batch: IntArray, cluster: Cluster, initial: IntArray) -> IntArray:
        """The cluster as one sub-cluster (live clusters are small; the split over
        sub-clusters is for hundreds of nodes): its sub-scheduler, trained (or loaded: shipped
        weights fit 27 nodes of the Metis table) for ``cluster.n_nodes`` nodes, places the batch
        on top of ``initial``; the best of its argmax and ``PLACE_SAMPLES`` sampled rollouts
        by the planning simulator, as :meth:`_select`."""
        check_fits(np.asarray(batch) + initial.sum(0), cluster)
        subs = getattr(self, "onto_subs", None)
        if subs is None or subs.size != cluster.n_nodes:
            subs = SubSchedulers(cluster.n_nodes, cluster.capacity, self.ctx,
                                 distilled=self.distilled)
            subs.train()
            self.onto_subs = subs
        cands = subs.place_onto(batch, initial, PLACE_SAMPLES,
                                np.random.default_rng(self.ctx.seed))
        best = int(np.argmax(self.ctx.sim.node_tput[index_of(cands)].sum(1)))
        self.last_note = "argmax" if best == 0 else "sample"
        return np.asarray(cands[best], dtype=np.int64)

    # Metis' tricks (unused by plain DC) ------------------------------------------------
    def _demos(self, update: int, row: int) -> IntArray | None:
        if update >= DEMO_UPDATES:
            return None
        allocs = demonstrations(self.batches[row], self.k, self.subs.size, self.ctx,
                                GROUP, self.ctx.seed + update, greedy=self.distilled)
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
    """DC plus greedy-distilled sub-schedulers, demonstrations and the optimal-episode buffer."""

    name = "metis"
    use_tricks = True


class MetisPG(Metis):
    """Metis trained by policy gradient alone: no greedy cloning, even-split demonstrations."""

    name = "metis-pg"
    distilled = False


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
                   seed: int, greedy: bool = True) -> list[IntArray]:
    """Heuristic splits of ``batch`` over ``k`` sub-clusters: even (round-robin), the greedy
    placement's split, and perturbations of the greedy split (``greedy=False``: of the even
    split, without consulting greedy)."""
    cluster = Cluster(k * size)
    even = even_split(batch, k)
    base = (Greedy(ctx).place(batch, cluster).reshape(k, size, N_APPS).sum(1) if greedy
            else even)
    out = [even, base] if greedy else [even]
    rng = np.random.default_rng(seed)
    cap = size * cluster.capacity
    while len(out) < n:
        alloc = base.copy()
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


__all__ = ["DivideConquer", "Metis", "MetisPG", "VanillaRL", "tree_branching"]
