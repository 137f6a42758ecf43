"""Heuristic baselines: round-robin, greedy marginal gain and Paragon."""

from __future__ import annotations

import numpy as np

from galileo.scheduling.compositions import IntArray
from galileo.scheduling.schedulers.base import (
    Cluster,
    Context,
    Scheduler,
    gain_table,
    sequential_place,
    violation_table,
)


class RoundRobin(Scheduler):
    """Container *i* (in arrival order) goes to the next node that still has room."""

    name = "round-robin"

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        cursor = [0]

        def choose(state: IntArray, loads: IntArray, app: int) -> int:
            while loads[cursor[0] % cluster.n_nodes] >= cluster.capacity:
                cursor[0] += 1
            node = cursor[0] % cluster.n_nodes
            cursor[0] += 1
            return node

        return sequential_place(batch, cluster, choose)


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
    """Interference-class greedy (Paragon, as in the Metis repo): each container goes to the node
    where it adds the fewest rule violations (caused plus suffered, from the full rule list);
    among equals, the most loaded node (first on ties), which packs nodes as Paragon does."""

    name = "paragon"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.cost = gain_table(violation_table(ctx.rules))  # -inf where full

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        cost = self.cost

        def choose(state: IntArray, loads: IntArray, app: int) -> int:
            added = np.where(loads < cluster.capacity, cost[state, app], np.inf)
            added = np.where(np.isneginf(added), np.inf, added)
            score = added * (cluster.capacity + 1) - loads  # fewest violations, then fullest
            return int(np.argmin(score))

        return sequential_place(batch, cluster, choose)
