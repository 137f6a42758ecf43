"""The one scheduler interface and what every scheduler shares.

``place(batch, cluster) -> placement``: ``batch`` is a length-7 vector of container counts,
the placement is an ``int64`` matrix (nodes × 7) whose column sums equal the batch and whose row
sums stay within the node capacity. Schedulers that learn override :meth:`Scheduler.fit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galileo.errors import ValidationError
from galileo.scheduling.compositions import (
    N_APPS,
    NODE_CAPACITY,
    POW,
    FloatArray,
    IntArray,
    all_compositions,
    code_to_index,
)
from galileo.scheduling.data import Rule
from galileo.scheduling.sim import Simulator

Progress = Callable[[int, int, float], None]  # (episode, total, tput)


@dataclass(frozen=True)
class Cluster:
    """``n_nodes`` identical nodes holding at most ``capacity`` containers each."""

    n_nodes: int
    capacity: int = NODE_CAPACITY


@dataclass
class Context:
    """What a scheduler may consult: the simulator it optimises against, the rules, a seed."""

    sim: Simulator
    rules: list[Rule]
    seed: int = 0
    checkpoint_dir: Path | None = None
    budget: float = 1.0  # training-budget multiplier for the learning schedulers
    progress: Progress | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class TrainingCurve:
    """Throughput per training episode and the wall-clock seconds at which it was reached."""

    episodes: list[int] = field(default_factory=list)
    tput: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)


class Scheduler:
    """Base class: subclasses implement :meth:`place`; ``train_s`` counts fitting time."""

    name = "scheduler"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.train_s = 0.0
        self.curve = TrainingCurve()
        self.last_note = ""  # e.g. "optimal" / "time limit", summarised by the comparison

    def fit(self, cluster: Cluster, batches: IntArray) -> None:
        """Train on ``batches`` for ``cluster`` (nothing to do for heuristics)."""

    def place(self, batch: IntArray, cluster: Cluster) -> IntArray:
        raise NotImplementedError


def app_sequence(batch: IntArray) -> IntArray:
    """Containers in arrival order: all app-0 containers first, then app-1, … (as upstream)."""
    return np.repeat(np.arange(N_APPS), np.asarray(batch, dtype=np.int64))


def check_placement(placement: IntArray, batch: IntArray, cluster: Cluster) -> None:
    """Raise when ``placement`` misses containers or overfills a node."""
    p = np.asarray(placement)
    if p.shape != (cluster.n_nodes, N_APPS):
        raise ValidationError(f"placement has shape {p.shape}, expected ({cluster.n_nodes}, 7)")
    if (p < 0).any() or not np.array_equal(p.sum(0), np.asarray(batch)):
        raise ValidationError(f"placement places {p.sum(0).tolist()}, batch is "
                              f"{np.asarray(batch).tolist()}")
    if (p.sum(1) > cluster.capacity).any():
        raise ValidationError(f"placement puts {int(p.sum(1).max())} containers on one node, "
                              f"capacity is {cluster.capacity}")


def check_fits(batch: IntArray, cluster: Cluster) -> None:
    """Raise when the batch cannot fit into the cluster at all."""
    if int(np.sum(batch)) > cluster.n_nodes * cluster.capacity:
        raise ValidationError(f"a batch of {int(np.sum(batch))} containers does not fit on "
                              f"{cluster.n_nodes} nodes of capacity {cluster.capacity}")


AFFINITY_WEIGHT = 2.0  # Medea's weight of the two affinity rules (MMS, ISR need Redis)


def medea_weights(rules: list[Rule]) -> FloatArray:
    """Rule weights of Medea's objective: affinity ('min') rules ×2, the others ×1."""
    return np.array([AFFINITY_WEIGHT if r.kind == "min" else 1.0 for r in rules])


def _rule_slack(rule: Rule, comps: IntArray) -> IntArray:
    """Per composition: how far each app-``app_s`` container is from satisfying ``rule`` (0 when
    satisfied or when no app-``app_s`` container is on the node)."""
    if rule.kind == "max":
        amount = np.maximum(0, comps[:, rule.app_c] - rule.threshold)
    else:
        amount = np.maximum(0, rule.threshold - comps[:, rule.app_c])
    return np.asarray(np.where(comps[:, rule.app_s] > 0, amount, 0), dtype=np.int64)


def violation_table(rules: list[Rule], weights: FloatArray | None = None) -> FloatArray:
    """Per composition: Medea's weighted per-container slack, ``sum_r w_r * n_s * slack_r``
    (every container of the rule's app ``s`` carries its own slack, as in Medea's ILP)."""
    comps = all_compositions()
    w = np.ones(len(rules)) if weights is None else np.asarray(weights, dtype=np.float64)
    out = np.zeros(len(comps))
    for r, weight in zip(rules, w, strict=True):
        out += weight * comps[:, r.app_s] * _rule_slack(r, comps)
    return out


def violating_table(rules: list[Rule]) -> FloatArray:
    """Per composition: the number of containers that break at least one rule (unweighted)."""
    comps = all_compositions()
    broken = np.zeros(comps.shape, dtype=bool)
    for r in rules:
        broken[:, r.app_s] |= _rule_slack(r, comps) > 0
    return np.asarray((comps * broken).sum(1), dtype=np.float64)


def violations(placement: IntArray, rules: list[Rule]) -> float:
    """Containers of a placement that break at least one placement rule (unweighted count)."""
    idx = code_to_index()[np.asarray(placement, dtype=np.int64) @ POW]
    return float(violating_table(rules)[idx].sum())


def weighted_slack(placement: IntArray, rules: list[Rule],
                   weights: FloatArray | None = None) -> float:
    """Medea's objective of a placement: weighted per-container rule slack."""
    idx = code_to_index()[np.asarray(placement, dtype=np.int64) @ POW]
    return float(violation_table(rules, weights)[idx].sum())


def gain_table(values: FloatArray) -> FloatArray:
    """``gain[i, a]``: change of a per-composition value when one app-``a`` container joins
    composition ``i`` (-inf when it would exceed capacity or either composition is unknown,
    i.e. has value -inf)."""
    comps = all_compositions()
    codes = comps @ POW
    out = np.full((len(comps), N_APPS), -np.inf)
    known = np.isfinite(values)
    for a in range(N_APPS):
        ok = comps.sum(1) < NODE_CAPACITY
        nxt = code_to_index()[codes[ok] + POW[a]]
        both = known[nxt] & known[ok]
        out[ok, a] = np.where(both, np.where(both, values[nxt], 0) - np.where(both, values[ok], 0),
                              -np.inf)
    return out


def sequential_place(batch: IntArray, cluster: Cluster,
                     choose: Callable[[IntArray, IntArray, int], int],
                     initial: IntArray | None = None) -> IntArray:
    """Place containers one by one (onto ``initial`` if given); ``choose(state_idx, loads, app)``
    returns a node index."""
    comps = all_compositions()
    codes = comps @ POW
    start = np.zeros((cluster.n_nodes, N_APPS), dtype=np.int64) if initial is None else initial
    check_fits(np.asarray(batch) + start.sum(0), cluster)
    state = code_to_index()[start @ POW].astype(np.int64)  # composition index per node
    loads = start.sum(1)
    for app in app_sequence(batch):
        node = choose(state, loads, int(app))
        state[node] = code_to_index()[codes[state[node]] + POW[app]]
        loads[node] += 1
    return np.asarray(comps[state], dtype=np.int64).copy()


ONTO_MAX_COLUMNS = 200_000  # per-node ILP size beyond which the "onto" form is not attempted


def onto_columns(batch: IntArray, cluster: Cluster, initial: IntArray) -> list[np.ndarray]:
    """Per node: the compositions it may end in when ``batch`` is added to ``initial`` (at least
    its current containers, at most those plus the whole batch, within capacity)."""
    comps = all_compositions()
    b = np.asarray(batch, dtype=np.int64)
    room = comps.sum(1) <= cluster.capacity
    return [np.flatnonzero(room & (comps >= start).all(1) & (comps <= start + b).all(1))
            for start in np.asarray(initial, dtype=np.int64)]


def ilp_onto(values: FloatArray, batch: IntArray, cluster: Cluster, initial: IntArray,
             node_limit: int) -> IntArray | None:
    """The placement of ``batch`` onto the existing ``initial`` (nodes × 7, never moved) that
    maximises ``sum(values[composition of each node])``: one binary per node and reachable
    composition (HiGHS, ``node_limit`` branch-and-bound nodes). A node whose current
    composition has no finite value only keeps what it holds. ``None`` without a solution."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    start = np.asarray(initial, dtype=np.int64)
    b = np.asarray(batch, dtype=np.int64)
    comps = all_compositions()
    here = code_to_index()[start @ POW]
    cols: list[np.ndarray] = []
    for i, reach in enumerate(onto_columns(b, cluster, start)):
        if here[i] < 0 or not np.isfinite(values[here[i]]):
            cols.append(np.array([], dtype=np.int64))  # closed: only its current composition
        else:
            cols.append(reach[np.isfinite(values[reach])])
    sizes = [max(len(c), 1) for c in cols]
    if sum(sizes) > ONTO_MAX_COLUMNS:
        return None
    n_var = sum(sizes)
    obj = np.zeros(n_var)
    a_node = np.zeros((cluster.n_nodes, n_var))
    a_app = np.zeros((N_APPS, n_var))
    at = 0
    for i, c in enumerate(cols):
        if len(c):
            obj[at: at + len(c)] = -(values[c] - (values[here[i]] if here[i] >= 0 else 0.0))
            a_app[:, at: at + len(c)] = (comps[c] - start[i]).T
        a_node[i, at: at + sizes[i]] = 1.0
        at += sizes[i]
    res = milp(obj, constraints=[LinearConstraint(a_node, 1, 1), LinearConstraint(a_app, b, b)],
               integrality=np.ones(n_var), bounds=Bounds(0, 1),
               options={"node_limit": node_limit, "disp": False})
    if res.x is None:
        return None
    out = start.copy()
    pick = np.rint(res.x).astype(bool)
    at = 0
    for i, c in enumerate(cols):
        chosen = np.flatnonzero(pick[at: at + sizes[i]])
        if len(c) and len(chosen):
            out[i] = comps[c[int(chosen[0])]]
        at += sizes[i]
    return out
