"""Ours: optimise over node *types* (compositions), then polish with local search.

Nodes are identical and the objective is a sum over nodes, so a placement is fully described by
how many nodes use each of the 6435 compositions. With ``y_k`` = nodes holding composition ``k``::

    maximise   sum_k T_k y_k               (T_k: node throughput of composition k, from the sim)
    subject to sum_k k[a] y_k = batch[a]   for every app a
               sum_k y_k     <= n_nodes,   y_k integer >= 0

Three candidates, the best one (by the simulator) wins:

1. *LP rounding*: solve the LP relaxation (HiGHS), keep ``floor(y)`` nodes of each composition,
   place the few leftover containers greedily, then run the move/swap local search;
2. *exact ILP* of the model above (HiGHS with a time limit) on clusters of at most
   ``ILP_MAX_NODES`` nodes, where it proves optimality in about a second;
3. *greedy* marginal gain, so the result is never below greedy.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from galileo.scheduling.compositions import N_APPS, IntArray, all_compositions
from galileo.scheduling.schedulers.base import Cluster, Context, Scheduler, check_fits
from galileo.scheduling.schedulers.heuristics import Greedy
from galileo.scheduling.schedulers.local_search import improve

ILP_TIME_LIMIT_S = 1.5
ILP_MAX_NODES = 243
LOCAL_SEARCH_S = 1.2


class Ours(Scheduler):
    """LP rounding + local search, exact ILP on small clusters, greedy guard."""

    name = "ours"

    def __init__(self, ctx: Context, ilp_time_limit_s: float = ILP_TIME_LIMIT_S,
                 local_search_s: float = LOCAL_SEARCH_S) -> None:
        super().__init__(ctx)
        limit = ctx.extra.get("ours_ilp_time_limit_s", ilp_time_limit_s)
        self.ilp_time_limit_s = float(limit)  # type: ignore[arg-type]
        self.local_search_s = local_search_s
        self.greedy = Greedy(ctx)
        self.last_optimal = False
        self.last_source = ""

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        check_fits(batch, cluster)
        b = np.asarray(batch, dtype=np.int64)
        t0 = time.monotonic()
        candidates = {"greedy": self.greedy.place(b, cluster)}
        lp = self._lp_round(b, cluster)
        if lp is not None:
            remaining = self.local_search_s - (time.monotonic() - t0)
            candidates["lp+ls"] = improve(lp, self.ctx.sim, cluster, max(remaining, 0.05))
        self.last_optimal = False
        if cluster.n_nodes <= ILP_MAX_NODES:
            ilp = self._ilp(b, cluster)
            if ilp is not None:
                candidates["ilp"] = ilp
        scores = {k: float(self.ctx.sim.node_throughput(v).sum()) for k, v in candidates.items()}
        self.last_source = max(scores, key=lambda k: scores[k])
        self.last_note = self.last_source + (" (ILP optimal)" if self.last_optimal else "")
        return candidates[self.last_source]

    def _columns(self, batch: IntArray, cluster: Cluster) -> np.ndarray:
        comps = all_compositions()
        return np.flatnonzero((comps.sum(1) > 0) & (comps.sum(1) <= cluster.capacity)
                              & np.isfinite(self.ctx.sim.node_tput) & (comps <= batch).all(1))

    def _to_placement(self, cols: np.ndarray, y: IntArray, cluster: Cluster) -> IntArray:
        nodes = np.repeat(all_compositions()[cols], y, axis=0)
        out = np.zeros((cluster.n_nodes, N_APPS), dtype=np.int64)
        out[: len(nodes)] = nodes
        return out

    def _lp_round(self, batch: IntArray, cluster: Cluster) -> IntArray | None:
        cols = self._columns(batch, cluster)
        comps = all_compositions()[cols].T.astype(np.float64)
        res = linprog(-self.ctx.sim.node_tput[cols], A_ub=np.ones((1, len(cols))),
                      b_ub=[cluster.n_nodes], A_eq=comps, b_eq=batch, bounds=(0, None),
                      method="highs")
        if res.x is None:
            return None
        y = np.floor(res.x + 1e-9).astype(np.int64)
        base = self._to_placement(cols, y, cluster)
        return self.greedy.place(batch - base.sum(0), cluster, initial=base)

    def _ilp(self, batch: IntArray, cluster: Cluster) -> IntArray | None:
        cols = self._columns(batch, cluster)
        comps = all_compositions()[cols].T.astype(np.float64)
        cons = [LinearConstraint(comps, batch, batch),
                LinearConstraint(np.ones((1, len(cols))), 0, cluster.n_nodes)]
        res = milp(-self.ctx.sim.node_tput[cols], constraints=cons,
                   integrality=np.ones(len(cols)), bounds=Bounds(0, cluster.n_nodes),
                   options={"time_limit": self.ilp_time_limit_s, "disp": False,
                            "presolve": False})  # HiGHS presolve overruns the time limit
        if res.x is None:
            return None
        self.last_optimal = res.status == 0
        return self._to_placement(cols, np.rint(res.x).astype(np.int64), cluster)
