"""Autoscaler evaluation metrics: reference values for the pure functions, then the same metrics
from a stored run (traces + autoscale events) and its replicas figure in the report."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo.analysis.autoscale import (
    ScaleDecision,
    decisions_of,
    direction_changes,
    first_step_up,
    reaction_time,
    replica_seconds,
    replica_timeline,
    slo_violation_seconds,
    time_to_settle,
)
from galileo.analysis.report import load_run, write_report
from galileo.analysis.report.figures import run_figures
from galileo.errors import NotFoundError
from galileo.protocol import Event, EventKind
from galileo.storage import ExpDB
from reportdata import T0, S, make_run


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ExpDB]:
    with ExpDB(f"sqlite:///{tmp_path / 'as.sqlite'}") as expdb:
        yield expdb


def d(t_s: float, frm: int, to: int, ready: int | None = None) -> ScaleDecision:
    return ScaleDecision(t_s=t_s, service="kv", action="scale" if frm != to else "hold",
                         replicas_from=frm, replicas_to=to, ready=ready)


def test_slo_violation_seconds_counts_p99_over_the_slo_and_unanswered_seconds() -> None:
    p99 = [10.0, 120.0, 100.0, None, math.nan, 250.0, 99.9]
    assert slo_violation_seconds(p99, 100.0) == 2  # 120 and 250; 100 is not over
    # with what was sent: a second that sent and got no answer is a violation, an idle one not
    assert slo_violation_seconds(p99, 100.0, [5, 5, 5, 5, 0, 5, 5]) == 3
    assert slo_violation_seconds([], 100.0) == 0


def test_replica_seconds_is_the_integral_of_the_steps() -> None:
    steps = [(2.0, 1.0), (5.0, 3.0), (9.0, 2.0)]
    # [0,2): initial 1; [2,5): 1; [5,9): 3; [9,12): 2  -> 2 + 3 + 12 + 6
    assert replica_seconds(steps, 0.0, 12.0, initial=1.0) == pytest.approx(23.0)
    assert replica_seconds(steps, 6.0, 10.0) == pytest.approx(3 * 3 + 2 * 1)
    assert replica_seconds(steps, 3.0, 3.0) == 0.0
    assert replica_seconds([], 0.0, 10.0, initial=2.0) == pytest.approx(20.0)


def test_reaction_time_is_step_to_first_scale_up() -> None:
    ds = [d(3.0, 1, 2), d(12.0, 2, 2), d(14.0, 2, 1), d(16.5, 1, 3), d(20.0, 3, 4)]
    assert reaction_time(ds, 10.0) == pytest.approx(6.5)  # the hold and the scale-down do not
    assert reaction_time(ds, 2.0) == pytest.approx(1.0)
    assert reaction_time(ds, 25.0) is None


def test_time_to_settle_is_the_last_change_before_the_horizon() -> None:
    steps = [(0.0, 1.0), (12.0, 2.0), (18.0, 3.0), (40.0, 1.0)]
    assert time_to_settle(steps, 10.0, 30.0) == pytest.approx(8.0)  # 18 - 10
    assert time_to_settle(steps, 10.0, 45.0) == pytest.approx(30.0)  # the scale-down at 40
    assert time_to_settle(steps, 19.0, 30.0) == 0.0  # nothing changed after 19 until 30
    assert time_to_settle([(0.0, 2.0), (5.0, 2.0)], 1.0, 9.0) == 0.0  # same value: no change


def test_direction_changes_count_turns_not_steps() -> None:
    assert direction_changes([d(1, 1, 2), d(2, 2, 3), d(3, 3, 3), d(4, 3, 4)]) == 0
    assert direction_changes([d(1, 1, 2), d(2, 2, 1), d(3, 1, 2), d(4, 2, 1)]) == 3
    assert direction_changes([d(1, 2, 1), d(2, 1, 1), d(3, 1, 2)]) == 1
    assert direction_changes([]) == 0


def test_first_step_up_is_a_rise_of_at_least_20_percent() -> None:
    assert first_step_up([(0.0, 0.0), (0.0, 20.0), (10.0, 20.0), (11.0, 22.0)]) is None
    rise = [(0.0, 0.0), (0.0, 20.0), (10.0, 20.0), (12.0, 60.0), (30.0, 20.0), (40.0, 80.0)]
    assert first_step_up(rise) == 10.0
    assert first_step_up(rise, after_s=11.0) == 30.0


def _decision(t_s: float, frm: int, to: int, ready: int) -> Event:
    return Event(kind=EventKind.AUTOSCALE, ts_ns=T0 + int(t_s * S), exp_id="as-run", name="echo",
                 data={"service": "echo", "policy": "cpu,target=0.6",
                       "action": "scale" if to != frm else "hold", "replicas_from": frm,
                       "replicas_to": to, "desired": to, "metric": "cpu_utilisation",
                       "observed": 0.9, "target": 0.6, "inputs": {"replicas": frm,
                                                                    "ready": ready},
                       "reason": f"reason {t_s:g}", "t_s": t_s})


@pytest.fixture
def scaled_run(db: ExpDB) -> str:
    """20 s at 50 req/s, a step to 100 req/s at 8 s; the autoscaler scales 1 → 2 at 10 s (the
    second ready at 12 s), 2 → 3 at 14 s, 3 → 2 at 18 s."""
    make_run(db, "as-run", seconds=20, rps=50, scale_ms=5.0, seed=3)
    db.insert_events([
        Event(kind=EventKind.GROUP_RATE, ts_ns=T0 + 8 * S, exp_id="as-run", name="g-echo",
              data={"service": "echo", "rps": 100}),
        _decision(2.0, 1, 1, 1), _decision(10.0, 1, 2, 1), _decision(12.0, 2, 2, 2),
        _decision(14.0, 2, 3, 2), _decision(16.0, 3, 3, 3), _decision(18.0, 3, 2, 3),
        _decision(19.0, 2, 2, 2)])
    return "as-run"


def test_metrics_of_a_stored_run(db: ExpDB, scaled_run: str) -> None:
    run = load_run(db, scaled_run)
    series = run.replicas["echo"]
    assert series.declared == [(2.0, 1.0), (10.0, 2.0), (14.0, 3.0), (18.0, 2.0)]
    assert series.ready == [(2.0, 1.0), (12.0, 2.0), (16.0, 3.0), (19.0, 2.0)]
    m = run.autoscale_metrics(slo_ms=1000.0)
    assert m.service == "echo" and m.end_s == 20 and m.step_s == pytest.approx(8.0)
    assert m.reaction_s == pytest.approx(2.0)  # step at 8 s, first scale-up at 10 s
    assert m.settle_s == pytest.approx(10.0)  # the last change (18 s) - 8 s
    assert m.direction_changes == 1 and m.scales == 3 and m.max_replicas == 3
    # declared replicas: 1 until 10 s, 2 until 14 s, 3 until 18 s, then 2 until 20 s
    assert m.replica_seconds == pytest.approx(10 * 1 + 4 * 2 + 4 * 3 + 2 * 2)
    assert m.slo_violation_s == 0  # lognormal around 5 ms never has a p99 of a second
    assert run.autoscale_metrics(slo_ms=0.001).slo_violation_s == 20  # every second is over
    assert run.autoscale_metrics(slo_ms=1000.0, step_s=15.0).reaction_s is None
    assert run.autoscale_metrics(slo_ms=1000.0, step_s=9.0).settle_s == pytest.approx(9.0)
    with pytest.raises(NotFoundError, match="sent nothing to service 'nope'"):
        run.autoscale_metrics(slo_ms=100.0, service="nope")
    assert m.as_dict()["replica_seconds"] == pytest.approx(34.0)
    # a window: [13, 17) has 2 declared until 14 then 3; the scale-up at 14 s is its one scale
    w = run.autoscale_metrics(slo_ms=0.001, start_s=13.0, end_s=17.0)
    assert (w.slo_violation_s, w.scales, w.direction_changes, w.max_replicas) == (4, 1, 0, 3)
    assert w.replica_seconds == pytest.approx(1 * 2 + 3 * 3) and w.step_s is None
    assert w.reaction_s is None and w.settle_s is None  # no load step inside the window
    # a step planned just before the window (the run's t0 comes after the rate event) counts
    late = run.autoscale_metrics(slo_ms=1000.0, start_s=8.5, end_s=20.0)
    assert late.step_s == pytest.approx(8.0) and late.reaction_s == pytest.approx(2.0)


def test_report_draws_replicas_beside_rate_and_latency(db: ExpDB, scaled_run: str,
                                                       tmp_path: Path) -> None:
    run = load_run(db, scaled_run)
    figs = dict(run_figures(run))
    assert list(figs)[:3] == ["rate", "latency", "replicas"]
    lines = {t["name"]: t for t in figs["replicas"]["data"] if t.get("meta") != "events"}
    ready = lines["echo ready"]
    assert ready["x"] == [2.0, 12.0, 16.0, 19.0, 20.0] and ready["y"] == [1, 2, 3, 2, 2]
    assert ready["line"]["shape"] == "hv" and lines["echo declared"]["y"][:4] == [1, 2, 3, 2]
    marks = next(t for t in figs["replicas"]["data"] if t.get("meta") == "events")
    assert len(marks["x"]) >= 4 and "1 → 2 (reason 10)" in " ".join(marks["text"])
    assert "replicas" not in dict(run_figures(load_run(db, _plain_run(db))))
    out, _ = write_report(db, [scaled_run], tmp_path / "r.html", png_dir=tmp_path / "png")
    assert "fig-1-replicas" in out.read_text()
    assert (tmp_path / "png" / "as-run-replicas.png").stat().st_size > 5000


def _plain_run(db: ExpDB) -> str:
    make_run(db, "as-plain", seconds=5, rps=20)
    return "as-plain"


def test_unreadable_decisions_are_skipped() -> None:
    rows = [{"kind": "autoscale", "ts_ns": T0, "name": "kv", "data": {"replicas_from": "x"}},
            {"kind": "group_rate", "ts_ns": T0, "name": "g", "data": {}},
            {"kind": "autoscale", "ts_ns": T0 + S, "name": "kv",
             "data": {"service": "kv", "replicas_from": 1, "replicas_to": 2}}]
    assert [(x.t_s, x.direction, x.ready) for x in decisions_of(rows, T0)] == [(1.0, 1, None)]
    assert replica_timeline(rows, T0)["kv"].ready == []
