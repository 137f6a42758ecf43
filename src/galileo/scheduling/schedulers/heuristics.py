"""Heuristic baselines: round-robin, greedy marginal gain and Paragon."""

from __future__ import annotations

import numpy as np

from galileo.scheduling.compositions import N_APPS, IntArray
from galileo.scheduling.schedulers.base import (
    Cluster,
    Context,
    Scheduler,
    gain_table,
    sequential_place,
)


class RoundRobin(Scheduler):
    """Container *i* (in arrival order) goes to the next node that still has room. Onto an
    ``initial`` placement the turn continues where it would stand after the containers already
    placed (``sum(initial) % n_nodes``)."""

    name = "round-robin"

    def place(self, batch: IntArray, cluster: Cluster,
              initial: IntArray | None = None) -> IntArray:
        cursor = [0 if initial is None else int(np.asarray(initial).sum()) % cluster.n_nodes]

        def choose(state: IntArray, loads: IntArray, app: int) -> int:
            while loads[cursor[0] % cluster.n_nodes] >= cluster.capacity:
                cursor[0] += 1
            node = cursor[0] % cluster.n_nodes
            cursor[0] += 1
            return node

        return sequential_place(batch, cluster, choose, initial)


class Greedy(Scheduler):
    """Each container goes to the node where it adds the most node throughput (first on ties)."""

    name = "greedy"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.gain = gain_table(ctx.sim.node_tput)

    def place(self, batch: IntArray, cluster: Cluster,
              initial: IntArray | None = None) -> IntArray:
        gain = self.gain

        def choose(state: IntArray, loads: IntArray, app: int) -> int:
            g = np.where(loads < cluster.capacity, gain[state, app], -np.inf)
            return int(np.argmax(g))

        return sequential_place(batch, cluster, choose, initial)


class Paragon(Scheduler):
    """Paragon's interference-class greedy as the Metis repo re-implements it, fed every rule.

    Sources of interference (SoIs) are the 7 apps. From each anti-affinity rule (s, c, ≤ t):
    ``tolerate[s, c] = t / capacity`` and ``cause[c, s] = 1 - tolerate[s, c]`` (defaults 1 and 0),
    rescaled with sensitivity 3 (``tolerate = (t + 2) / 3``, ``cause = c / 3``). A node tolerates
    the minimum of its apps' tolerances and causes the sum of its containers' causes. For a new
    container the SoIs are visited in pairs (its largest cause with its smallest tolerance): keep
    the nodes with ``D1 = tol_node - cause_app >= 0`` then ``D2 = tol_app - cause_node >= 0``. If
    the set ever empties, the least-loaded node wins; otherwise the node (any node with room) with
    the smallest positive ``D1 + D2`` of the last pair. Ties are broken at random (seeded); a full
    node drawn from an all-infinite tie is remapped to a node with room as upstream does.
    """

    name = "paragon"
    SENSITIVITY = 3

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.scale = ctx.extra.get("paragon_capacity")  # upstream: 8 (81 nodes), 20 (729)

    def scores(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        """``(tolerate, cause)`` matrices (app × SoI) after the sensitivity rescale."""
        scale = float(self.scale if self.scale is not None else capacity)  # type: ignore[arg-type]
        tol, cause = np.ones((N_APPS, N_APPS)), np.zeros((N_APPS, N_APPS))
        for r in self.ctx.rules:
            if r.kind == "max":
                tol[r.app_s, r.app_c] = r.threshold / scale
                cause[r.app_c, r.app_s] = max(1.0 - tol[r.app_s, r.app_c], 0.0)
        s = self.SENSITIVITY
        return (tol + s - 1) / s, cause / s

    def place(self, batch: IntArray, cluster: Cluster,
              initial: IntArray | None = None) -> IntArray:
        """Onto ``initial`` (optional): each node starts tolerating the least of its present
        apps' tolerances and causing the sum of its containers' causes."""
        tol, cause = self.scores(cluster.capacity)
        rng = np.random.default_rng(self.ctx.seed)
        node_tol = np.ones((cluster.n_nodes, N_APPS))
        node_cause = np.zeros((cluster.n_nodes, N_APPS))
        if initial is not None:
            start = np.asarray(initial, dtype=np.int64)
            for node, counts in enumerate(start):
                for app in np.flatnonzero(counts):
                    node_tol[node] = np.minimum(node_tol[node], tol[app])
                node_cause[node] = counts @ cause

        def choose(state: IntArray, loads: IntArray, app: int) -> int:
            room = loads < cluster.capacity
            node = _paragon_node(app, tol, cause, node_tol, node_cause, loads, room, rng)
            if not room[node]:  # upstream's handle_constraint remapping
                good = np.flatnonzero(room)
                node = int(good[int((~room[:node]).sum()) % len(good)])
            node_tol[node] = np.minimum(node_tol[node], tol[app])
            node_cause[node] += cause[app]
            return node

        return sequential_place(batch, cluster, choose, initial)


def _paragon_node(app: int, tol: np.ndarray, cause: np.ndarray, node_tol: np.ndarray,
                  node_cause: np.ndarray, loads: IntArray, room: np.ndarray,
                  rng: np.random.Generator) -> int:
    cand = np.ones(len(loads), dtype=bool)
    order_c = np.argsort(cause[app], kind="stable")[::-1]
    order_t = np.argsort(tol[app], kind="stable")
    d1 = d2 = np.zeros(len(loads))
    for soi_c, soi_t in zip(order_c, order_t, strict=True):
        d1 = node_tol[:, soi_c] - cause[app, soi_c]
        cand &= d1 >= 0
        if not cand.any():
            return _pick_min(np.where(room, loads, np.inf), rng)
        d2 = tol[app, soi_t] - node_cause[:, soi_t]
        cand &= d2 >= 0
        if not cand.any():
            return _pick_min(np.where(room, loads, np.inf), rng)
    total = np.where(d1 <= 0, np.inf, d1) + np.where(d2 <= 0, np.inf, d2)
    return _pick_min(np.where(room, np.clip(total, 0, None), np.inf), rng)


def _pick_min(values: np.ndarray, rng: np.random.Generator) -> int:
    """A random index among the minima (NaN-free; all-infinite ties include every index)."""
    ties = np.flatnonzero(values == values.min())
    return int(ties[rng.integers(len(ties))])
