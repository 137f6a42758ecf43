"""Ours: optimise over node *types* (compositions), then polish with local search.

Nodes are identical and the objective is a sum over nodes, so a placement is fully described by
how many nodes use each of the 6435 compositions. With ``y_k`` = nodes holding composition ``k``::

    maximise   sum_k T_k y_k               (T_k: node throughput of composition k, from the sim)
    subject to sum_k k[a] y_k = batch[a]   for every app a
               sum_k y_k     <= n_nodes,   y_k integer >= 0

Three candidates, the best one (by the simulator) wins:

1. *LP rounding*: solve the LP relaxation (HiGHS), keep ``floor(y)`` nodes of each composition,
   place the few leftover containers greedily, then run the move/swap local search;
2. *exact ILP* of the model above (HiGHS, budget ``ILP_NODE_LIMIT`` branch-and-bound nodes,
   so a re-run gives the same placement on any machine) on clusters of at most
   ``ILP_MAX_NODES`` nodes;
3. *greedy* marginal gain, so the result is never below greedy *on the planning simulator*.

*Trust-aware objective*: the planning simulator may be a model (the RF). Optimising a model
exactly exploits its errors, so compositions the model has not measured count
``1 - UNMEASURED_PENALTY`` of their predicted throughput (about the RF's own node-throughput
error, 4.3 %). On a measured table every composition is measured and nothing changes.

Every placement's gap to the LP bound (an upper bound on any placement's planned throughput)
is kept in ``last_gap`` and printed in the note, so a result is either proven optimal or
comes with how far from optimal it can at most be.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from galileo.scheduling.compositions import N_APPS, IntArray, all_compositions, index_of
from galileo.scheduling.schedulers.base import Cluster, Context, Scheduler, check_fits, ilp_onto
from galileo.scheduling.schedulers.heuristics import Greedy
from galileo.scheduling.schedulers.local_search import improve

ILP_NODE_LIMIT = 200
ILP_MAX_NODES = 243
LOCAL_SEARCH_STEPS = 400
UNMEASURED_PENALTY = 0.05


class Ours(Scheduler):
    """LP rounding + local search, exact ILP on small clusters, greedy guard; gap to LP bound."""

    name = "ours"

    def __init__(self, ctx: Context, ilp_node_limit: int = ILP_NODE_LIMIT,
                 local_search_steps: int = LOCAL_SEARCH_STEPS) -> None:
        super().__init__(ctx)
        limit = ctx.extra.get("ours_ilp_node_limit", ilp_node_limit)
        self.ilp_node_limit = int(limit)  # type: ignore[call-overload]
        self.local_search_steps = local_search_steps
        self.greedy = Greedy(ctx)
        sim = ctx.sim
        self.values = np.where(sim.measured, sim.node_tput,
                               sim.node_tput * (1 - UNMEASURED_PENALTY))
        self.last_optimal = False
        self.last_source = ""
        self.last_gap = float("nan")

    def place(self, batch: IntArray, cluster: Cluster,
              initial: IntArray | None = None) -> IntArray:
        """See the module doc. Onto ``initial`` (containers already placed, never moved): the
        greedy guard onto it and the exact per-node ILP (:func:`base.ilp_onto`) on the same
        trust-aware values; the better one wins."""
        if initial is not None and np.asarray(initial).any():
            return self._place_onto(batch, cluster, np.asarray(initial, dtype=np.int64))
        check_fits(batch, cluster)
        b = np.asarray(batch, dtype=np.int64)
        candidates = {"greedy": self.greedy.place(b, cluster)}
        lp, bound = self._lp_round(b, cluster)
        if lp is not None:
            candidates["lp+ls"] = improve(lp, self.values, cluster,
                                          max_steps=self.local_search_steps)
        self.last_optimal = False
        if cluster.n_nodes <= ILP_MAX_NODES:
            ilp = self._ilp(b, cluster)
            if ilp is not None:
                candidates["ilp"] = ilp
        scores = {k: float(self.values[index_of(v)].sum()) for k, v in candidates.items()}
        self.last_source = max(scores, key=lambda k: scores[k])
        best = scores[self.last_source]
        self.last_gap = max(0.0, (bound - best) / bound) if bound > 0 else float("nan")
        self.last_note = self.last_source + (" (proven optimal)" if self.last_optimal else
                                             f" (gap to LP bound < {self._gap_bucket()})")
        return candidates[self.last_source]

    def _place_onto(self, batch: IntArray, cluster: Cluster, initial: IntArray) -> IntArray:
        b = np.asarray(batch, dtype=np.int64)
        check_fits(b + initial.sum(0), cluster)
        candidates = {"greedy": self.greedy.place(b, cluster, initial=initial)}
        ilp = ilp_onto(self.values, b, cluster, initial, self.ilp_node_limit)
        if ilp is not None:
            candidates["ilp"] = ilp
        scores = {k: float(self.values[index_of(v)].sum()) for k, v in candidates.items()}
        self.last_source = max(scores, key=lambda k: scores[k])  # ties: greedy (first)
        self.last_optimal = self.last_source == "ilp" or (
            "ilp" in scores and scores["ilp"] <= scores["greedy"])
        self.last_gap = 0.0 if self.last_optimal else float("nan")
        self.last_note = f"{self.last_source} onto the existing placement"
        return candidates[self.last_source]

    def _gap_bucket(self) -> str:
        for limit in (0.001, 0.005, 0.01, 0.02, 0.05):
            if self.last_gap < limit:
                return f"{limit:.1%}"
        return f"{self.last_gap:.0%}+"

    def _columns(self, batch: IntArray, cluster: Cluster) -> np.ndarray:
        comps = all_compositions()
        return np.flatnonzero((comps.sum(1) > 0) & (comps.sum(1) <= cluster.capacity)
                              & np.isfinite(self.values) & (comps <= batch).all(1))

    def _to_placement(self, cols: np.ndarray, y: IntArray, cluster: Cluster) -> IntArray:
        nodes = np.repeat(all_compositions()[cols], y, axis=0)
        out = np.zeros((cluster.n_nodes, N_APPS), dtype=np.int64)
        out[: len(nodes)] = nodes
        return out

    def _lp_round(self, batch: IntArray, cluster: Cluster) -> tuple[IntArray | None, float]:
        """The LP relaxation rounded down and completed greedily, and the LP bound."""
        cols = self._columns(batch, cluster)
        comps = all_compositions()[cols].T.astype(np.float64)
        res = linprog(-self.values[cols], A_ub=np.ones((1, len(cols))),
                      b_ub=[cluster.n_nodes], A_eq=comps, b_eq=batch, bounds=(0, None),
                      method="highs")
        if res.x is None:
            return None, float("nan")
        y = np.floor(res.x + 1e-9).astype(np.int64)
        base = self._to_placement(cols, y, cluster)
        return self.greedy.place(batch - base.sum(0), cluster, initial=base), float(-res.fun)

    def _ilp(self, batch: IntArray, cluster: Cluster) -> IntArray | None:
        cols = self._columns(batch, cluster)
        comps = all_compositions()[cols].T.astype(np.float64)
        cons = [LinearConstraint(comps, batch, batch),
                LinearConstraint(np.ones((1, len(cols))), 0, cluster.n_nodes)]
        res = milp(-self.values[cols], constraints=cons,
                   integrality=np.ones(len(cols)), bounds=Bounds(0, cluster.n_nodes),
                   options={"node_limit": self.ilp_node_limit, "disp": False,
                            "presolve": False})  # presolve costs more than it saves here
        if res.x is None:
            return None
        self.last_optimal = res.status == 0
        return self._to_placement(cols, np.rint(res.x).astype(np.int64), cluster)
