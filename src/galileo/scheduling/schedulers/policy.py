"""Numpy policy-gradient building blocks: a one-hidden-layer policy net and a tree policy.

:class:`PolicyNet` is a 128-unit ReLU MLP with a masked softmax, trained with REINFORCE and Adam.
:class:`TreePolicy` places containers on ``prod(branching)`` slots by descending a tree, one net
per level (a flat agent is a tree of one level; the Metis 27-node sub-scheduler is ``(3, 3, 3)``).
Rollouts run many episodes at once (one forward pass per container for the whole batch of
episodes), so each episode may have its own container sequence (``-1`` pads the shorter ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galileo.scheduling.compositions import N_APPS, NODE_CAPACITY, IntArray, index_of

HIDDEN = 128
LEARNING_RATE = 2e-2
ENTROPY_BONUS = 0.01


class PolicyNet:
    """``x -> relu(x W1 + b1) W2 + b2 -> masked softmax``."""

    def __init__(self, n_in: int, n_out: int, seed: int, hidden: int = HIDDEN,
                 lr: float = LEARNING_RATE) -> None:
        rng = np.random.default_rng(seed)
        self.params = {
            "w1": rng.normal(0, np.sqrt(2 / n_in), (n_in, hidden)), "b1": np.zeros(hidden),
            "w2": rng.normal(0, 0.01, (hidden, n_out)), "b2": np.zeros(n_out)}
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.t = 0
        self.lr = lr

    def probs(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Action probabilities (and the hidden layer) for states ``x`` with legal ``mask``."""
        p = self.params
        h = np.maximum(x @ p["w1"] + p["b1"], 0.0)
        logits = np.where(mask, h @ p["w2"] + p["b2"], -1e9)
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits) * mask
        return e / e.sum(1, keepdims=True), h

    def update(self, x: np.ndarray, mask: np.ndarray, actions: IntArray,
               adv: np.ndarray) -> None:
        """One Adam step on ``-mean(adv * log pi(a|x)) - ENTROPY_BONUS * entropy``."""
        probs, h = self.probs(x, mask)
        n = len(x)
        grad_logits = probs.copy()
        grad_logits[np.arange(n), actions] -= 1.0
        grad_logits *= adv[:, None] / n
        logp = np.log(np.clip(probs, 1e-12, 1.0))
        ent = -(probs * logp).sum(1, keepdims=True)
        grad_logits += ENTROPY_BONUS * probs * (logp + ent) / n * mask
        p = self.params
        dh = (grad_logits @ p["w2"].T) * (h > 0)
        grads = {"w2": h.T @ grad_logits, "b2": grad_logits.sum(0),
                 "w1": x.T @ dh, "b1": dh.sum(0)}
        self.t += 1
        for k, g in grads.items():
            self.m[k] = 0.9 * self.m[k] + 0.1 * g
            self.v[k] = 0.999 * self.v[k] + 0.001 * g * g
            m_hat = self.m[k] / (1 - 0.9**self.t)
            v_hat = self.v[k] / (1 - 0.999**self.t)
            p[k] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


@dataclass
class Trace:
    """Per level: the states, masks, actions and episode index of every decision."""

    x: list[list[np.ndarray]] = field(default_factory=list)
    mask: list[list[np.ndarray]] = field(default_factory=list)
    actions: list[list[np.ndarray]] = field(default_factory=list)
    episode: list[list[np.ndarray]] = field(default_factory=list)
    step: list[list[np.ndarray]] = field(default_factory=list)
    gains: np.ndarray | None = None  # episodes × steps: value added by each decision


class TreePolicy:
    """Place containers on ``prod(branching)`` slots of ``capacity`` each, level by level."""

    def __init__(self, branching: tuple[int, ...], capacity: int, seed: int,
                 gain: np.ndarray | None = None) -> None:
        self.branching = branching
        self.capacity = capacity
        self.n_slots = int(np.prod(branching))
        # composition × app marginal gains (node-level policies only): per-child gain features
        self.gain = gain if capacity == NODE_CAPACITY else None
        extra = 2 if self.gain is not None else 0
        self.nets = [PolicyNet(b * N_APPS + 2 * N_APPS + extra * b, b, seed + i)
                     for i, b in enumerate(branching)]

    def rollout(self, seqs: IntArray, rng: np.random.Generator | None,
                forced: IntArray | None = None,
                slot_value: Callable[[np.ndarray], np.ndarray] | None = None,
                initial: IntArray | None = None) -> tuple[IntArray, Trace]:
        """Run ``len(seqs)`` episodes; ``rng=None`` picks the most likely action, ``forced``
        (episodes × steps slot indices) replays given placements. With ``slot_value`` (value of
        slot compositions) the trace records each decision's gain. ``initial`` (slots × 7)
        holds containers already placed, in every episode. Returns slot counts."""
        n_ep, steps = seqs.shape
        counts = np.zeros((n_ep, self.n_slots, N_APPS))
        if initial is not None:
            counts += np.asarray(initial, dtype=np.float64)[None]
        remaining = np.stack([np.bincount(s[s >= 0], minlength=N_APPS) for s in seqs]).astype(float)
        total = np.maximum(remaining.sum(1, keepdims=True), 1.0)
        levels = range(len(self.branching))
        trace = Trace([[] for _ in levels], [[] for _ in levels], [[] for _ in levels],
                      [[] for _ in levels], [[] for _ in levels])
        if slot_value is not None:
            trace.gains = np.zeros((n_ep, steps))
        for t in range(steps):
            live = np.flatnonzero(seqs[:, t] >= 0)
            if not len(live):
                continue
            apps = seqs[live, t]
            slot = self._descend(counts[live], apps, remaining[live] / total[live], rng,
                                 None if forced is None else forced[live, t], trace, live)
            for level in levels:
                trace.step[level].append(np.full(len(live), t))
            before = counts[live, slot].copy()
            counts[live, slot, apps] += 1
            if slot_value is not None and trace.gains is not None:
                trace.gains[live, t] = (slot_value(counts[live, slot].astype(np.int64))
                                        - slot_value(before.astype(np.int64)))
            remaining[live, apps] -= 1
        return counts.astype(np.int64), trace

    def _descend(self, counts: np.ndarray, apps: IntArray, rem: np.ndarray,
                 rng: np.random.Generator | None, forced: IntArray | None, trace: Trace,
                 live: IntArray) -> IntArray:
        n = len(apps)
        base = np.zeros(n, dtype=np.int64)  # first slot of the current subtree
        size = self.n_slots
        onehot = np.eye(N_APPS)[apps]
        node_gain = self._node_gain(counts, apps)
        for level, (b, net) in enumerate(zip(self.branching, self.nets, strict=True)):
            size //= b
            idx = base[:, None] + np.arange(b * size)[None, :]
            sub = counts[np.arange(n)[:, None], idx].reshape(n, b, size, N_APPS).sum(2)
            cap = size * self.capacity
            mask = sub.sum(2) < cap
            parts = [sub.reshape(n, -1) / cap, onehot, rem]
            if node_gain is not None:
                parts += _gain_features(node_gain[np.arange(n)[:, None], idx], b, size,
                                        sub.sum(2) / cap)
            x = np.concatenate(parts, axis=1)
            if forced is not None:
                act = (forced - base) // size
            else:
                probs, _ = net.probs(x, mask)
                if rng is None:
                    act = probs.argmax(1)
                else:
                    act = (probs.cumsum(1) > rng.random((n, 1))).argmax(1)
                    act = np.where(mask[np.arange(n), act], act, probs.argmax(1))
            trace.x[level].append(x)
            trace.mask[level].append(mask)
            trace.actions[level].append(act)
            trace.episode[level].append(live)
            base = base + act * size
        return base

    def _node_gain(self, counts: np.ndarray, apps: IntArray) -> np.ndarray | None:
        """Gain of adding each episode's container to every slot (-inf where full)."""
        if self.gain is None:
            return None
        idx = index_of(counts.astype(np.int64))
        return np.asarray(self.gain[np.maximum(idx, 0), apps[:, None]])

    def learn(self, trace: Trace, adv: np.ndarray) -> None:
        """REINFORCE step for every level; ``adv`` holds one advantage per episode, or one per
        episode and step (episodes × steps)."""
        for level, net in enumerate(self.nets):
            if not trace.x[level]:
                continue
            ep = np.concatenate(trace.episode[level])
            a = adv[ep] if adv.ndim == 1 else adv[ep, np.concatenate(trace.step[level])]
            net.update(np.concatenate(trace.x[level]), np.concatenate(trace.mask[level]),
                       np.concatenate(trace.actions[level]), a)

    def save(self, path: Path, **meta: object) -> None:
        """Write every level's parameters (and ``meta``) to one ``.npz``."""
        arrays: dict[str, object] = {f"l{i}_{k}": v for i, net in enumerate(self.nets)
                                     for k, v in net.params.items()}
        arrays.update({f"meta_{k}": np.asarray(v) for k, v in meta.items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    def load(self, path: Path) -> dict[str, np.ndarray]:
        """Read parameters saved by :meth:`save`; returns the ``meta`` entries."""
        with np.load(path) as data:
            for i, net in enumerate(self.nets):
                for k in net.params:
                    net.params[k] = np.array(data[f"l{i}_{k}"])
            return {k[5:]: np.array(data[k]) for k in data.files if k.startswith("meta_")}


def _gain_features(gains: np.ndarray, b: int, size: int,
                   load: np.ndarray) -> list[np.ndarray]:
    """Per child: its best slot gain (clipped where full) and its load fraction."""
    best = gains.reshape(len(gains), b, size).max(2)
    return [np.where(np.isfinite(best), best, -1.0), load]


def sequences(batches: IntArray, repeat: int = 1) -> IntArray:
    """Arrival sequences (apps sorted by index) of each batch, ``repeat`` times, ``-1`` padded."""
    seqs = [np.repeat(np.arange(N_APPS), b) for b in np.asarray(batches) for _ in range(repeat)]
    steps = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), steps), -1, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out
