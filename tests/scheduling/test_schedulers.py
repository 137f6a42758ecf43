from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from galileo.errors import ValidationError
from galileo.scheduling.data import synthetic_batches
from galileo.scheduling.dataset import Dataset
from galileo.scheduling.schedulers import (
    SCHEDULERS,
    Cluster,
    Context,
    check_placement,
    make_scheduler,
    parse_schedulers,
)
from galileo.scheduling.schedulers.base import medea_weights, violation_table
from galileo.scheduling.schedulers.heuristics import Paragon
from galileo.scheduling.schedulers.medea import Medea, violation_greedy
from galileo.scheduling.schedulers.policy import TreePolicy
from galileo.scheduling.schedulers.rl_agents import VanillaRL
from galileo.scheduling.schedulers.subsched import SubSchedulers

CLUSTER = Cluster(9)
FAST = {"medea_node_limit": 50, "medea_presolve": False, "ours_ilp_node_limit": 20}


def _ctx(ds: Dataset, **kw: object) -> Context:
    return Context(ds.sim("table"), ds.rules, seed=0, budget=0.05, extra=dict(FAST), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_places_everything_within_capacity(synthetic: Dataset, name: str) -> None:
    batches = synthetic.batches(20)[:2]
    scheduler = make_scheduler(name, _ctx(synthetic))
    scheduler.fit(CLUSTER, batches)
    for batch in batches:
        placement = scheduler.place(batch, CLUSTER)
        check_placement(placement, batch, CLUSTER)
        assert placement.sum(1).max() <= 8


def test_ours_is_at_least_greedy(synthetic: Dataset) -> None:
    ctx = _ctx(synthetic)
    sim = ctx.sim
    greedy, ours = make_scheduler("greedy", ctx), make_scheduler("ours", ctx)
    for batch in synthetic.batches(40)[:3]:
        assert sim.throughput(ours.place(batch, CLUSTER)) >= sim.throughput(
            greedy.place(batch, CLUSTER)) - 1e-12


def test_medea_solution_satisfies_its_constraints(synthetic: Dataset) -> None:
    medea = Medea(_ctx(synthetic), node_limit=200)
    batch = synthetic.batches(20)[0]
    placement = medea.place(batch, CLUSTER)
    check_placement(placement, batch, CLUSTER)
    table = violation_table(synthetic.rules, medea_weights(synthetic.rules))
    from galileo.scheduling.compositions import index_of

    assert table[index_of(placement)].sum() == pytest.approx(medea.last_slack, abs=1e-6)
    assert medea.last_source == "ilp" and medea.last_gap >= 0


def test_medea_without_an_incumbent_falls_back_to_a_feasible_placement(
        synthetic: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from galileo.scheduling.schedulers import medea as medea_module

    monkeypatch.setattr(medea_module, "milp", lambda *a, **k: SimpleNamespace(x=None, status=1))
    medea = Medea(_ctx(synthetic), node_limit=1)
    cluster, batch = Cluster(27), synthetic.batches(60)[0]
    placement = medea.place(batch, cluster)
    check_placement(placement, batch, cluster)
    assert not medea.last_optimal and medea.last_source == "fallback"
    assert medea.last_note == "fallback (no ILP incumbent in 1 B&B nodes)"
    expected = violation_greedy(batch, cluster, medea.cost)
    np.testing.assert_array_equal(placement, expected)


def test_paragon_is_seeded_and_packs(synthetic: Dataset) -> None:
    batch = synthetic.batches(40)[0]
    a = make_scheduler("paragon", _ctx(synthetic)).place(batch, CLUSTER)
    b = make_scheduler("paragon", _ctx(synthetic)).place(batch, CLUSTER)
    np.testing.assert_array_equal(a, b)
    tol, cause = Paragon(_ctx(synthetic)).scores(8)
    assert tol.min() >= 2 / 3 and tol.max() <= 1 and cause.max() <= 1 / 3


def test_subscheduler_cloning_approaches_greedy(synthetic: Dataset) -> None:
    ctx = Context(synthetic.sim("table"), synthetic.rules, seed=0, budget=0.1)
    subs = SubSchedulers(9, 8, ctx, ranges=1)
    batches = synthetic_batches(30, 4, seed=5)
    sim, cluster = ctx.sim, Cluster(9)

    def mean_tput(placements: np.ndarray) -> float:
        return float(np.mean([sim.throughput(p) for p in placements]))

    before = mean_tput(subs.place_many(batches))
    subs.train()
    after = mean_tput(subs.place_many(batches))
    greedy = mean_tput(np.stack([make_scheduler("greedy", ctx).place(b, cluster)
                                 for b in batches]))
    assert after > before
    assert after >= greedy - 0.03


def test_rl_improves_over_its_first_episode(synthetic: Dataset) -> None:
    ctx = Context(synthetic.sim("table"), synthetic.rules, seed=3, budget=1.0)
    agent = VanillaRL(ctx)
    batches = synthetic.batches(20)[:1]
    agent.fit(CLUSTER, batches)
    curve = agent.curve.tput
    assert len(curve) >= 20
    assert np.mean(curve[-10:]) > curve[0] + 0.02


def test_tree_policy_checkpoint_roundtrip(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "p.npz"
    a, b = TreePolicy((3, 3), 8, seed=1), TreePolicy((3, 3), 8, seed=2)
    a.save(path, update=7)
    assert int(b.load(path)["update"]) == 7
    np.testing.assert_array_equal(a.nets[1].params["w1"], b.nets[1].params["w1"])


def test_unknown_scheduler_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown scheduler 'foo'"):
        parse_schedulers("greedy,foo")


def test_cli_compare_writes_csv_and_plot(tmp_path: object) -> None:
    from pathlib import Path

    from galileo.cli.main import app

    out = Path(str(tmp_path))
    result = CliRunner().invoke(app, [
        "sched", "compare", "--synthetic", "1", "--nodes", "9", "--batch", "20", "--rows", "0-1",
        "--plan-sim", "table", "--score-sim", "table",
        "--schedulers", "round-robin,greedy,ours", "--csv", str(out / "r.csv"),
        "--plot", str(out / "r.png")])
    assert result.exit_code == 0, result.output
    lines = (out / "r.csv").read_text().splitlines()
    assert lines[0] == ("scheduler,mean_tput,std_tput,plan_tput,violating_containers,"
                        "weighted_slack,latency_s,train_s")
    assert [ln.split(",")[0] for ln in lines[1:]] == ["round-robin", "greedy", "ours"]
    rows = (out / "r-rows.csv").read_text().splitlines()
    assert rows[0].startswith("scheduler,row,score_tput,plan_tput") and len(rows) == 1 + 3 * 2
    assert (out / "r.png").stat().st_size > 0


def test_cli_bad_rows_fail_with_one_sentence() -> None:
    from galileo.cli.main import app

    result = CliRunner().invoke(app, ["sched", "compare", "--synthetic", "0", "--rows", "5-2"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationError)
    assert "5-2" in str(result.exception)


def test_shipped_subscheduler_weights_load_and_match_greedy(metis: Dataset) -> None:
    ctx = Context(metis.sim("table"), metis.rules, seed=0)
    subs = SubSchedulers(27, 8, ctx)
    assert subs.train() < 5.0  # loaded from galileo/scheduling/weights, not trained
    batches, cluster = synthetic_batches(60, 3, seed=87), Cluster(27)
    ours = np.mean([ctx.sim.throughput(p) for p in subs.place_many(batches)])
    greedy = np.mean([ctx.sim.throughput(make_scheduler("greedy", ctx).place(b, cluster))
                      for b in batches])
    assert ours >= greedy - 0.02


def test_shipped_weights_are_not_used_for_another_table(synthetic: Dataset) -> None:
    from galileo.scheduling.schedulers.subsched import WEIGHTS_DIR

    ctx = Context(synthetic.sim("table"), synthetic.rules, seed=0)
    subs = SubSchedulers(27, 8, ctx)
    shipped = WEIGHTS_DIR / subs._name(0)
    assert shipped.is_file(), f"{shipped} is not shipped"
    assert not subs._load(0, shipped)
