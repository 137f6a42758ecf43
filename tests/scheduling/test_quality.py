"""Quality pinned on the Metis data: each test fails when one scheduler is broken or replaced
(greedy by first-fit, ours by greedy, Paragon by least-loaded, Medea by round-robin, Metis by
an even split, ``violations()`` by 0), and the plan/score protocol keeps the truth from the
schedulers. Reference values were measured with this code on Metis rows 0-2 (81 nodes, 200)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from galileo.scheduling.compositions import all_compositions
from galileo.scheduling.data import Rule
from galileo.scheduling.dataset import Dataset
from galileo.scheduling.experiment import run_scheduler
from galileo.scheduling.schedulers import Cluster, Context, make_scheduler, violations
from galileo.scheduling.schedulers.base import medea_weights, weighted_slack
from galileo.scheduling.schedulers.heuristics import Greedy
from galileo.scheduling.schedulers.medea import Medea, violation_greedy
from galileo.scheduling.schedulers.rl_agents import Metis, even_split

CLUSTER = Cluster(81)
GREEDY_TABLE = [1.232382, 1.2067, 1.202256]  # rows 0-2, plan and score on the table
PARAGON_TABLE = [0.716761, 0.718541, 0.727882]  # seed 0
GREEDY_VIOLATING = [40, 38]  # rows 0-1: containers breaking >= 1 Metis rule
MEDEA_SLACK = [60.0, 61.0]  # rows 0-1: Medea's optimum (weighted per-container slack)


def _table_ctx(ds: Dataset) -> Context:
    return Context(ds.sim("table"), ds.rules, seed=0)


def _lp_bound(ds: Dataset, batch: np.ndarray, n_nodes: int) -> float:
    """Upper bound on any placement's average throughput: the composition LP, solved here."""
    comps = all_compositions()
    tput = ds.sim("table").node_tput
    cols = np.flatnonzero((comps.sum(1) > 0) & np.isfinite(tput) & (comps <= batch).all(1))
    res = linprog(-tput[cols], A_ub=np.ones((1, len(cols))), b_ub=[n_nodes],
                  A_eq=comps[cols].T, b_eq=batch, bounds=(0, None), method="highs")
    return float(-res.fun / batch.sum())


def test_greedy_and_paragon_reproduce_their_reference_values(metis: Dataset) -> None:
    ctx, batches = _table_ctx(metis), metis.batches(200)
    sim = ctx.sim
    greedy, paragon = make_scheduler("greedy", ctx), make_scheduler("paragon", ctx)
    got_g = [sim.throughput(greedy.place(batches[r], CLUSTER)) for r in range(3)]
    got_p = [sim.throughput(paragon.place(batches[r], CLUSTER)) for r in range(3)]
    np.testing.assert_allclose(got_g, GREEDY_TABLE, atol=1e-6)
    np.testing.assert_allclose(got_p, PARAGON_TABLE, atol=1e-6)
    assert [violations(greedy.place(batches[r], CLUSTER), metis.rules)
            for r in range(2)] == GREEDY_VIOLATING


def test_ours_is_within_a_tenth_of_a_percent_of_the_lp_bound(metis: Dataset) -> None:
    ctx, batch = _table_ctx(metis), metis.batches(200)[0]
    ours = make_scheduler("ours", ctx)
    got = ctx.sim.throughput(ours.place(batch, CLUSTER))
    bound = _lp_bound(metis, batch, CLUSTER.n_nodes)
    assert got <= bound + 1e-9
    assert got >= bound * (1 - 0.001), (got, bound)
    assert got > GREEDY_TABLE[0] + 0.005  # a clear margin over greedy on the same row


def test_ours_beats_greedy_on_the_truth_when_planning_on_the_model(metis: Dataset) -> None:
    rf, table = metis.sim("rf"), metis.sim("table")
    batch = metis.batches(200)[:1]
    results = {name: run_scheduler(make_scheduler(name, Context(rf, metis.rules)), batch,
                                   CLUSTER, table) for name in ("greedy", "ours")}
    greedy_placement = Greedy(Context(rf, metis.rules)).place(batch[0], CLUSTER)
    row = results["greedy"].rows[0]  # scored on the table, planned on the RF
    assert row.score_tput == pytest.approx(table.throughput(greedy_placement), abs=1e-12)
    assert row.plan_tput == pytest.approx(rf.throughput(greedy_placement), abs=1e-12)
    assert abs(row.score_tput - row.plan_tput) > 1e-3  # the two simulators really differ
    assert results["ours"].rows[0].score_tput > row.score_tput + 0.01


def test_medea_reaches_its_optimum_and_beats_its_fallback(metis: Dataset) -> None:
    batches = metis.batches(200)
    medea = Medea(Context(metis.sim("table"), metis.rules, extra={"medea_presolve": False}))
    for r in range(2):
        placement = medea.place(batches[r], CLUSTER)
        slack = weighted_slack(placement, metis.rules, medea_weights(metis.rules))
        fallback = violation_greedy(batches[r], CLUSTER, medea.cost)
        assert slack == MEDEA_SLACK[r] == medea.last_slack
        assert slack < weighted_slack(fallback, metis.rules, medea_weights(metis.rules))
        assert medea.last_source == "ilp" and medea.last_note == "ILP optimal"


def test_metis_beats_its_even_split(metis: Dataset) -> None:
    ctx = Context(metis.sim("table"), metis.rules, seed=0, budget=0.1)
    batches = metis.batches(200)[:1]
    agent = Metis(ctx)
    agent.fit(CLUSTER, batches)
    placed = ctx.sim.throughput(agent.place(batches[0], CLUSTER))
    even = ctx.sim.throughput(agent._placement(even_split(batches[0], agent.k)))
    assert placed > even + 0.005, (placed, even)


def test_violation_counts_by_hand() -> None:
    rules = [Rule(0, 0, "max", 2),  # at most 2 app-0 containers (itself included)
             Rule(1, 0, "min", 1),  # app 1 needs >= 1 app-0 container (affinity: weight 2)
             Rule(2, 3, "max", 1)]  # app 2 tolerates at most 1 app-3 container
    placement = np.array([[3, 1, 0, 0, 0, 0, 0],    # 3 app-0 over the limit by 1 each
                          [0, 2, 1, 2, 0, 0, 0],    # 2 app-1 without app 0; app 2 next to 2
                          [1, 1, 0, 0, 0, 0, 0],    # fine
                          [0, 0, 0, 0, 0, 0, 0]])
    assert violations(placement, rules) == 3 + 2 + 1
    assert weighted_slack(placement, rules) == 3 * 1 + 2 * 1 + 1 * 1
    assert weighted_slack(placement, rules, medea_weights(rules)) == 3 + 2 * 2 + 1
