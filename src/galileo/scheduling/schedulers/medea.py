"""Medea: the constraint-based ILP (minimise weighted rule violations under node capacity).

Compact per-node-count formulation (no per-container binaries), solved with HiGHS through
``scipy.optimize.milp`` with a time limit. Variables per node ``n`` and app ``a``: the count
``x[n,a]`` (integer), the presence ``z[n,a]`` (binary) and, per rule ``r``, a violation amount
``v[n,r] >= 0``; plus ``u[n]`` (node used). Objective: ``sum w_r v[n,r] + eps * sum u[n]``
(Medea's secondary goal, few nodes / low fragmentation). Node loads are ordered non-increasingly
to break the symmetry between identical nodes.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from galileo.scheduling.compositions import N_APPS, IntArray
from galileo.scheduling.schedulers.base import (
    Cluster,
    Context,
    Scheduler,
    check_fits,
    gain_table,
    sequential_place,
    violation_table,
    violations,
)

MEDEA_TIME_LIMIT_S = 10.0
NODE_EPS = 1e-3


class Medea(Scheduler):
    """ILP placement; ``last_optimal`` and ``last_violations`` describe the last solve."""

    name = "medea"

    def __init__(self, ctx: Context, time_limit_s: float | None = None) -> None:
        super().__init__(ctx)
        limit = ctx.extra.get("medea_time_limit_s", MEDEA_TIME_LIMIT_S)
        self.time_limit_s = float(time_limit_s if time_limit_s is not None else limit)  # type: ignore[arg-type]
        self.last_optimal = False
        self.last_violations = float("nan")
        self.cost = gain_table(violation_table(ctx.rules))  # -inf where the node is full

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        """The ILP's optimum; at the time limit the better (fewer weighted violations) of the
        solver's incumbent and a violation-greedy placement (the only one when HiGHS found
        none); ``last_note`` says which."""
        check_fits(batch, cluster)
        b = np.asarray(batch, dtype=np.int64)
        model = _build(b, cluster, self.ctx)
        res = milp(model.c, constraints=model.constraints, integrality=model.integrality,
                   bounds=model.bounds, options={"time_limit": self.time_limit_s, "disp": False})
        self.last_optimal = res.status == 0 and res.x is not None
        fallback = violation_greedy(b, cluster, self.cost)
        if res.x is None:
            x = fallback
            self.last_note = f"fallback (no ILP incumbent in {self.time_limit_s:g} s)"
        else:
            x = np.rint(res.x[: model.nx]).astype(np.int64).reshape(cluster.n_nodes, N_APPS)
            self.last_note = "optimal" if self.last_optimal else "time limit (ILP incumbent)"
            if not self.last_optimal and (violations(fallback, self.ctx.rules)
                                          < violations(x, self.ctx.rules)):
                x = fallback  # the heuristic incumbent beats the solver's at the time limit
                self.last_note = "time limit (greedy incumbent)"
        self.last_violations = violations(x, self.ctx.rules)
        return np.asarray(x, dtype=np.int64)


def violation_greedy(batch: IntArray, cluster: Cluster, cost: np.ndarray) -> IntArray:
    """Each container to the node where it adds the fewest weighted rule violations (then the
    fullest node, first on ties): always feasible, Medea's fallback."""

    def choose(state: IntArray, loads: IntArray, app: int) -> int:
        added = np.where(loads < cluster.capacity, cost[state, app], np.inf)
        added = np.where(np.isneginf(added), np.inf, added)
        return int(np.argmin(added * (cluster.capacity + 1) - loads))

    return sequential_place(batch, cluster, choose)


class _Model:
    def __init__(self, n_vars: int, nx: int, v_slice: slice) -> None:
        self.c = np.zeros(n_vars)
        self.nx = nx
        self.v_slice = v_slice
        self.integrality = np.zeros(n_vars)
        self.bounds: Bounds = Bounds(0, np.inf)
        self.constraints: list[LinearConstraint] = []


def _build(batch: IntArray, cluster: Cluster, ctx: Context) -> _Model:
    n, cap, rules = cluster.n_nodes, cluster.capacity, ctx.rules
    nx = n * N_APPS
    x0, z0, u0, v0 = 0, nx, 2 * nx, 2 * nx + n
    nv = v0 + n * len(rules)
    model = _Model(nv, nx, slice(v0, nv))

    def xi(node: int, a: int) -> int:
        return x0 + node * N_APPS + a

    def zi(node: int, a: int) -> int:
        return z0 + node * N_APPS + a

    model.c[u0:v0] = NODE_EPS
    model.c[v0:] = 1.0  # weight 1 per violating container
    model.integrality[: 2 * nx + n] = 1
    upper = np.full(nv, np.inf)
    upper[:nx], upper[z0:v0] = cap, 1
    model.bounds = Bounds(np.zeros(nv), upper)
    rows: list[tuple[dict[int, float], float, float]] = []
    for a in range(N_APPS):
        rows.append(({xi(k, a): 1.0 for k in range(n)}, batch[a], batch[a]))
    for k in range(n):
        rows.append(({**{xi(k, a): 1.0 for a in range(N_APPS)}, u0 + k: -cap}, -np.inf, 0))
        for a in range(N_APPS):
            rows.append(({xi(k, a): 1.0, zi(k, a): -cap}, -np.inf, 0))  # x <= cap z
            rows.append(({zi(k, a): 1.0, xi(k, a): -1.0}, -np.inf, 0))  # z <= x
        for r_i, r in enumerate(rules):
            v = v0 + k * len(rules) + r_i
            if r.kind == "max" and r.app_s == r.app_c:  # v >= x_s - t
                rows.append(({v: 1.0, xi(k, r.app_s): -1.0}, -r.threshold, np.inf))
            elif r.kind == "max":  # v >= x_c - t - cap (1 - z_s)
                rows.append(({v: 1.0, xi(k, r.app_c): -1.0, zi(k, r.app_s): -cap},
                             -r.threshold - cap, np.inf))
            else:  # v >= t z_s - x_c
                rows.append(({v: 1.0, zi(k, r.app_s): -r.threshold, xi(k, r.app_c): 1.0},
                             0, np.inf))
        if k + 1 < n:  # symmetry: load[k] >= load[k+1]
            row = {xi(k, a): 1.0 for a in range(N_APPS)}
            row.update({xi(k + 1, a): -1.0 for a in range(N_APPS)})
            rows.append((row, 0, np.inf))
    mat = lil_matrix((len(rows), nv))
    lo, hi = np.empty(len(rows)), np.empty(len(rows))
    for i, (coef, lb, ub) in enumerate(rows):
        for j, val in coef.items():
            mat[i, j] = val
        lo[i], hi[i] = lb, ub
    model.constraints = [LinearConstraint(mat.tocsr(), lo, hi)]
    return model
