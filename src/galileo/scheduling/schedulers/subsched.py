"""Sub-schedulers: tree policies that place a sub-cluster's share of the batch on its nodes.

Metis trains one sub-scheduler per container-count range (a 27-node sub-cluster is a 3-level
ternary tree: 3 groups of 9 → 3 groups of 3 → a node). Each level's net sees, per child subtree,
its app counts and load, and the best marginal gain (from the simulator) of adding the current
container anywhere in that child. Training per range:

1. *heuristic demonstrations*: behaviour cloning of the greedy marginal-gain placement on random
   batches of the range (cross-entropy on the greedy node's path through the tree);
2. *policy gradient* fine-tuning (REINFORCE with per-step advantages), kept only when it
   improves the validation throughput (the best policy so far is the one kept, as Metis keeps
   its optimal episodes).

``distilled=False`` (Metis-PG) skips step 1 and the gain inputs: ``PG_UPDATES`` updates of
policy gradient from a random policy, as the paper trains its sub-schedulers.

Trained weights are cached under the context's checkpoint directory (or the shipped
``galileo/scheduling/weights``) with a fingerprint of the simulator's table, and reused only
for a matching table.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from galileo.scheduling.compositions import N_APPS, IntArray, index_of
from galileo.scheduling.schedulers.base import Context, TrainingCurve, gain_table
from galileo.scheduling.schedulers.policy import TreePolicy, sequences
from galileo.scheduling.schedulers.training import Run, train

SUB_CLUSTER_NODES = 27
BC_UPDATES = 150
BC_EPISODES = 8
RL_UPDATES = 30
PG_UPDATES = 200
PG_LR = 5e-3
TRAIN_BATCHES = 32
FINGERPRINT_TOLERANCE = 0.02
VALID_BATCHES = 12
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


def sim_fingerprint(ctx: Context) -> np.ndarray:
    """Node throughput of every 32nd composition: identifies the simulator's table (weights
    trained on one table fit only tables within ``FINGERPRINT_TOLERANCE`` of it)."""
    return np.nan_to_num(ctx.sim.node_tput[::32], neginf=-1.0)


def greedy_actions(seqs: IntArray, n_slots: int, gain: np.ndarray) -> IntArray:
    """The greedy marginal-gain slot of every container (episodes × steps; -1 on padding)."""
    n_ep, steps = seqs.shape
    counts = np.zeros((n_ep, n_slots, N_APPS), dtype=np.int64)
    out = np.full((n_ep, steps), -1, dtype=np.int64)
    for t in range(steps):
        live = np.flatnonzero(seqs[:, t] >= 0)
        apps = seqs[live, t]
        g = gain[index_of(counts[live]), apps[:, None]]
        slot = np.argmax(g, axis=1)
        out[live, t] = slot
        counts[live, slot, apps] += 1
    return out


class SubSchedulers:
    """One tree policy per container-count range for sub-clusters of ``size`` nodes."""

    def __init__(self, size: int, capacity: int, ctx: Context, ranges: int = 3,
                 distilled: bool = True) -> None:
        self.size, self.capacity, self.ctx = size, capacity, ctx
        self.distilled = distilled
        edges = np.linspace(0, size * capacity, ranges + 1).astype(int)
        self.ranges = [(int(edges[i]) + 1, int(edges[i + 1])) for i in range(ranges)]
        self.gain = gain_table(ctx.sim.node_tput)
        self.inputs = self.gain if distilled else None  # greedy's marginal gains as features
        self.policies = [TreePolicy(tree_branching(size), capacity, ctx.seed + 10 * i,
                                    self.inputs) for i in range(ranges)]
        self.train_s = 0.0
        self.curve = TrainingCurve()
        self.valid: list[float] = [float("nan")] * ranges

    def _name(self, i: int) -> str:
        lo, hi = self.ranges[i]
        kind = "sub" if self.distilled else "subpg"
        return f"{kind}{self.size}-{lo}-{hi}-{self.ctx.sim.name}-{self.ctx.seed}.npz"

    def _paths(self, i: int) -> list[Path]:
        paths = [WEIGHTS_DIR / self._name(i)]
        if self.ctx.checkpoint_dir is not None:
            paths.insert(0, self.ctx.checkpoint_dir / self._name(i))
        return paths

    def train(self) -> float:
        """Train (or load) every range's policy; returns the seconds spent."""
        t0 = time.monotonic()
        for i in range(len(self.ranges)):
            if any(self._load(i, p) for p in self._paths(i) if p.is_file()):
                continue
            self._train_range(i)
            if self.ctx.checkpoint_dir is not None:
                self.policies[i].save(self.ctx.checkpoint_dir / self._name(i),
                                      valid=self.valid[i], fingerprint=sim_fingerprint(self.ctx))
        self.train_s = time.monotonic() - t0
        return self.train_s

    def _load(self, i: int, path: Path) -> bool:
        """Load ``path`` when it was trained on (nearly) this simulator's table."""
        probe = TreePolicy(self.policies[i].branching, self.capacity, 0, self.inputs)
        meta = probe.load(path)
        ref, now = meta.get("fingerprint"), sim_fingerprint(self.ctx)
        if ref is None or ref.shape != now.shape or np.abs(ref - now).max() > FINGERPRINT_TOLERANCE:
            return False
        self.policies[i] = probe
        self.valid[i] = float(meta.get("valid", np.nan))
        return True

    def _batches(self, i: int, n: int, rng: np.random.Generator) -> IntArray:
        lo, hi = self.ranges[i]
        sizes = rng.integers(lo, hi + 1, size=n)
        return np.stack([rng.multinomial(s, [1 / N_APPS] * N_APPS) for s in sizes])

    def _train_range(self, i: int) -> None:
        rng = np.random.default_rng(self.ctx.seed + 1000 + i)
        policy, budget = self.policies[i], self.ctx.budget
        valid = self._batches(i, VALID_BATCHES, rng)
        if not self.distilled:
            self.valid[i] = self._policy_gradient(i, valid, rng, PG_UPDATES, PG_LR)
            return
        t0 = time.monotonic()
        n_bc = max(1, int(BC_UPDATES * budget))
        for u in range(n_bc):  # behaviour cloning of greedy demonstrations
            seqs = sequences(self._batches(i, BC_EPISODES, rng))
            forced = greedy_actions(seqs, policy.n_slots, self.gain)
            _, trace = policy.rollout(seqs, None, forced)
            policy.learn(trace, np.ones(len(seqs)))
            if u % 10 == 9 or u + 1 == n_bc:
                score = self.score(i, valid)
                self.curve.episodes.append((len(self.curve.episodes) + 1) * BC_EPISODES * 10)
                self.curve.tput.append(score)
                self.curve.wall_s.append(time.monotonic() - t0)
                if self.ctx.progress is not None:
                    self.ctx.progress(u + 1, n_bc, score)
        self.valid[i] = self._fine_tune(i, valid, rng)

    def _fine_tune(self, i: int, valid: IntArray, rng: np.random.Generator) -> float:
        """REINFORCE from the cloned policy; keep whichever policy validates better."""
        return self._policy_gradient(i, valid, rng, RL_UPDATES, 1e-3)

    def _policy_gradient(self, i: int, valid: IntArray, rng: np.random.Generator,
                         updates: int, lr: float) -> float:
        """REINFORCE with per-step advantages; keep whichever policy validates better."""
        policy, sim = self.policies[i], self.ctx.sim
        before = self.score(i, valid)
        saved = [{k: v.copy() for k, v in net.params.items()} for net in policy.nets]
        batches = self._batches(i, TRAIN_BATCHES, rng)

        def reward(counts: IntArray, row: int) -> np.ndarray:
            return np.asarray(sim.node_tput[index_of(counts)].sum(1) / batches[row].sum())

        run = Run(policy, batches, reward, max(1, int(updates * self.ctx.budget)),
                  self.ctx.seed + i, self.curve if not self.distilled else TrainingCurve(),
                  self.ctx.progress if not self.distilled else None)
        run.slot_value = lambda c: np.asarray(sim.node_tput[index_of(c)])
        for net in policy.nets:
            net.lr = lr
        train(run)
        after = self.score(i, valid)
        if after < before:
            for net, params in zip(policy.nets, saved, strict=True):
                net.params = params
        return max(before, after)

    def score(self, i: int, batches: IntArray) -> float:
        """Mean throughput of range ``i``'s deterministic placements of ``batches``."""
        counts, _ = self.policies[i].rollout(sequences(batches), None)
        tput = self.ctx.sim.node_tput[index_of(counts)].sum(1)
        return float(np.mean(tput / np.asarray(batches).sum(1)))

    def range_of(self, total: int) -> int:
        """The index of the container-count range ``total`` falls in (the last one beyond)."""
        for i, (lo, hi) in enumerate(self.ranges):
            if lo <= total <= hi:
                return i
        return len(self.ranges) - 1

    def place_onto(self, batch: IntArray, initial: IntArray, samples: int,
                   rng: np.random.Generator) -> IntArray:
        """Candidate node counts (1 + ``samples``) × size × 7 for ``batch`` added to the
        containers already on the nodes (``initial``, size × 7), by the policy of the range
        the sub-cluster's total falls in: its argmax rollout, then ``samples`` sampled ones."""
        start = np.asarray(initial, dtype=np.int64)
        b = np.asarray(batch, dtype=np.int64)
        policy = self.policies[self.range_of(int(b.sum() + start.sum()))]
        best, _ = policy.rollout(sequences(b[None]), None, initial=start)
        sampled, _ = policy.rollout(sequences(b[None], samples), rng, initial=start)
        return np.concatenate([best, sampled])

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
