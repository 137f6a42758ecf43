"""A scenario's ``autoscalers:``: validated with the scenario (one line per problem, with its
path), run by the experiment engine from the start of the load to its end, their decisions
stored as events of the experiment, and stopped when the load ends."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from svchelpers import AgentStarter, wait_until

from galileo.experiments.runner import execute
from galileo.experiments.scenario import ScenarioError, parse_scenario
from galileo.experiments.service import ExperimentService
from galileo.protocol import EventKind
from galileo.services.reconciler import Reconciler
from galileo.settings import Settings
from galileo.storage import ExperimentStatus

LOAD = {"service": "gassc", "profile": {"type": "stages",
                                        "stages": [{"duration": 4, "rps": 5}]}}


def scenario(**autoscaler: Any) -> dict[str, Any]:
    return {"name": "gas-scenario",
            "services": [{"name": "gassc", "app": "echo", "replicas": 1, "cpus": 0.1}],
            "autoscalers": [{"service": "gassc", **autoscaler}], "workloads": [LOAD]}


@pytest.mark.parametrize(("autoscaler", "problem"), [
    ({"policy": "nope"}, "autoscalers[0]: unknown autoscaling policy 'nope'"),
    ({"min": 3, "max": 2}, "autoscalers[0]: autoscaler min replicas (3) is above max (2)"),
    ({"options": {"target": "x"}}, "option target must be a number > 0, got 'x'"),
    ({"options": {"nope": 1}}, "autoscaling policy 'cpu' has no option(s) nope"),
    ({"period": 0}, "autoscalers[0].period: Input should be greater than 0"),
    ({"policy": "schedule", "options": {"at": "soon"}}, "'soon' is not OFFSET=REPLICAS"),
    ({"service": "bad name!"}, "autoscalers[0].service:"),
])
def test_bad_autoscalers_are_one_line_with_their_path(autoscaler: dict[str, Any],
                                                      problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(scenario(**autoscaler))
    assert len(info.value.problems) == 1 and problem in info.value.problems[0], \
        info.value.problems
    assert "\n" not in str(info.value)


def test_one_autoscaler_per_service() -> None:
    sc = scenario(policy="cpu")
    sc["autoscalers"].append({"service": "gassc", "policy": "latency"})
    with pytest.raises(ScenarioError, match="autoscalers: one per service"):
        parse_scenario(sc)
    assert parse_scenario(scenario(policy="latency", options={"slo_ms": 20})).autoscalers[
        0].options == {"slo_ms": 20}


def test_the_engine_runs_them_for_the_load_and_stops_them(
        settings: Settings, service: ExperimentService, start_agent: AgentStarter,
        reconciler: Reconciler, load_cluster: str) -> None:
    start_agent("gas1")
    exp = service.create(scenario=scenario(policy="schedule", min=1, max=3, period=0.5,
                                           options={"at": "0s=1,1s=2"}), name="gas")
    outcome = execute(settings, exp.id, db=service.db)
    assert outcome is not None and outcome.status == ExperimentStatus.FINISHED, outcome
    assert not [t for t in threading.enumerate() if t.name.startswith("autoscale-")]

    def stored() -> list[dict[str, Any]]:
        return [e["data"] for e in service.db.events(exp.id) if e["kind"] == EventKind.AUTOSCALE]

    wait_until(lambda: any(e["action"] == "scale" for e in stored()), 20, "the scale event")
    scale = next(e for e in stored() if e["action"] == "scale")
    assert (scale["service"], scale["replicas_from"], scale["replicas_to"], scale["metric"]) == (
        "gassc", 1, 2, "time_s")
    assert scale["reason"] == "schedule: 2 replica(s) from 1 s" and scale["observed"] >= 1
    # stopped with the load: nothing is decided after the experiment ended
    count = len(stored())
    time.sleep(1.5)
    assert len(stored()) == count
