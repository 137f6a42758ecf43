"""Medea: the constraint-based ILP (minimise weighted rule violations under node capacity).

Medea (EuroSys '18) gives every container its own slack variable per placement rule and
minimises the weighted slack, then (secondary) the number of nodes used. Nodes are identical, so
the same optimum is found over node *types*: with ``y_k`` nodes holding composition ``k``::

    minimise   sum_k (V_k + eps) y_k       V_k = sum_r w_r * n_s(k) * slack_r(k)
    subject to sum_k k[a] y_k = batch[a],  sum_k y_k <= n_nodes,  y_k integer >= 0

``V_k`` counts the slack per container (a node with three app-``s`` containers over a limit by
two adds 3 × 2); rule weights come from ``base.medea_weights`` (affinity rules ×2). The solver
budget is a branch-and-bound *node* limit, so a re-run gives the same placement on any machine.
With no incumbent at the limit the violation-greedy placement is returned; ``last_note`` says
which, and ``last_gap`` holds the MIP gap.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from galileo.scheduling.compositions import N_APPS, IntArray, all_compositions
from galileo.scheduling.schedulers.base import (
    Cluster,
    Context,
    Scheduler,
    check_fits,
    gain_table,
    ilp_onto,
    medea_weights,
    sequential_place,
    violation_table,
    weighted_slack,
)

MEDEA_NODE_LIMIT = 2000  # HiGHS branch-and-bound nodes (deterministic budget)
NODE_EPS = 1e-3


class Medea(Scheduler):
    """Composition ILP; ``last_source`` ('ilp' or 'fallback'), ``last_gap``, ``last_slack``."""

    name = "medea"

    def __init__(self, ctx: Context, node_limit: int | None = None) -> None:
        super().__init__(ctx)
        limit = ctx.extra.get("medea_node_limit", MEDEA_NODE_LIMIT)
        self.node_limit = int(node_limit if node_limit is not None else limit)  # type: ignore[call-overload]
        self.presolve = bool(ctx.extra.get("medea_presolve", True))  # off: faster on small cases
        self.weights = medea_weights(ctx.rules)
        self.slack = violation_table(ctx.rules, self.weights)
        self.cost = gain_table(self.slack)  # -inf where the node is full
        self.last_optimal = False
        self.last_source = ""
        self.last_gap = float("nan")
        self.last_slack = float("nan")

    def place(self, batch: IntArray, cluster: Cluster,
              initial: IntArray | None = None) -> IntArray:
        """The ILP's best placement within the node limit, else the violation-greedy one.
        Onto ``initial`` (containers already placed, never moved): the same objective over
        each node's reachable compositions (:func:`base.ilp_onto`)."""
        if initial is not None and np.asarray(initial).any():
            return self._place_onto(batch, cluster, np.asarray(initial, dtype=np.int64))
        check_fits(batch, cluster)
        b = np.asarray(batch, dtype=np.int64)
        comps = all_compositions()
        cols = np.flatnonzero((comps.sum(1) > 0) & (comps.sum(1) <= cluster.capacity)
                              & (comps <= b).all(1))
        cons = [LinearConstraint(comps[cols].T.astype(np.float64), b, b),
                LinearConstraint(np.ones((1, len(cols))), 0, cluster.n_nodes)]
        res = milp(self.slack[cols] + NODE_EPS, constraints=cons,
                   integrality=np.ones(len(cols)), bounds=Bounds(0, cluster.n_nodes),
                   options={"node_limit": self.node_limit, "disp": False,
                            "presolve": self.presolve})
        self.last_optimal = res.status == 0 and res.x is not None
        if res.x is None:
            x = violation_greedy(b, cluster, self.cost)
            self.last_source, self.last_gap = "fallback", float("nan")
            self.last_note = f"fallback (no ILP incumbent in {self.node_limit} B&B nodes)"
        else:
            y = np.rint(res.x).astype(np.int64)
            x = np.zeros((cluster.n_nodes, N_APPS), dtype=np.int64)
            nodes = np.repeat(comps[cols], y, axis=0)
            x[: len(nodes)] = nodes
            self.last_source = "ilp"
            self.last_gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
            self.last_note = "ILP optimal" if self.last_optimal else "ILP at node limit"
        self.last_slack = weighted_slack(x, self.ctx.rules, self.weights)
        return np.asarray(x, dtype=np.int64)


    def _place_onto(self, batch: IntArray, cluster: Cluster, initial: IntArray) -> IntArray:
        check_fits(np.asarray(batch) + initial.sum(0), cluster)
        comps = all_compositions()
        values = -(self.slack + NODE_EPS * (comps.sum(1) > 0))
        x = ilp_onto(values, batch, cluster, initial, self.node_limit)
        self.last_optimal = x is not None
        if x is None:
            x = violation_greedy(batch, cluster, self.cost, initial)
            self.last_source, self.last_gap = "fallback", float("nan")
            self.last_note = f"fallback (no ILP incumbent in {self.node_limit} B&B nodes)"
        else:
            self.last_source, self.last_gap = "ilp", 0.0
            self.last_note = "ILP onto the existing placement"
        self.last_slack = weighted_slack(x, self.ctx.rules, self.weights)
        return np.asarray(x, dtype=np.int64)


def violation_greedy(batch: IntArray, cluster: Cluster, cost: np.ndarray,
                     initial: IntArray | None = None) -> IntArray:
    """Each container to the node where it adds the least weighted slack (then the fullest
    node, first on ties): always feasible, Medea's fallback."""

    def choose(state: IntArray, loads: IntArray, app: int) -> int:
        added = np.where(loads < cluster.capacity, cost[state, app], np.inf)
        added = np.where(np.isneginf(added), np.inf, added)
        return int(np.argmin(added * (cluster.capacity + 1) - loads))

    return sequential_place(batch, cluster, choose, initial)
