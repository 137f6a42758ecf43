"""Scenario validation (every problem with its path), profiles and thresholds: pure logic."""

from __future__ import annotations

import pytest

from galileo.errors import ValidationError
from galileo.experiments.jobs import InvalidScriptError, make_job
from galileo.experiments.profiles import mean_rate
from galileo.experiments.scenario import ScenarioError, parse_scenario
from galileo.experiments.service import ExperimentService
from galileo.experiments.thresholds import Observed, Threshold, evaluate

BAD = """
workloads:
  - service: echo
    profile: {type: constant, rps: 5}
  - service: echo
    clients: 0
    profile:
      type: stages
      stages: [{duration: 2, rps: 5}, {duration: -1, rps: 3}]
    thresholds: ["p99 < 3"]
thresholds: ["error_rate << 1"]
routing_changes: [{at: 1, service: echo}]
"""


def test_every_problem_with_its_path() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(BAD)
    problems = info.value.problems
    paths = [p.split(":")[0] for p in problems]
    assert paths == sorted(paths, key=paths.index)
    assert set(paths) == {"workloads[1].clients", "workloads[1].profile.stages[1].duration",
                          "workloads[1].thresholds", "thresholds", "routing_changes[0]"}


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ValidationError, match="not valid YAML: line 3"):
        parse_scenario("workloads:\n  - [unclosed\n")


def test_script_errors_list_every_line() -> None:
    with pytest.raises(InvalidScriptError) as info:
        make_job(script="spawn * echo 1\nrps * echo fast\nsleep\n")
    assert info.value.problems == ["line 2: rate 'fast' is not a number",
                                   "line 3: usage: sleep SECONDS"]


def test_submit_rejects_bad_input_and_duplicates(service: ExperimentService) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        service.submit()
    with pytest.raises(ScenarioError):
        service.submit(scenario=BAD)
    assert service.list() == []  # nothing stored for invalid input
    service.create(script="sleep 1", exp_id="dup-1")
    with pytest.raises(ValidationError, match="already exists"):
        service.submit(script="sleep 1", exp_id="dup-1")


def test_profiles_plan_and_mean_rate() -> None:
    sc = parse_scenario({"workloads": [
        {"service": "a", "profile": {"type": "stages", "stages": [
            {"duration": 2, "rps": 10}, {"duration": 2, "rps": 30, "ramp": 2}]}},
        {"service": "b", "profile": {"type": "ticks", "ticks": [1, 2, 3], "interval": 0.5}},
        {"service": "c", "profile": {"type": "spike", "base": 5, "peak": 50, "at": 1,
                                     "duration": 1}},
        {"service": "d", "profile": {"type": "sine", "mean": 10, "amplitude": 5, "period": 4,
                                     "duration": 4}},
        {"service": "e", "profile": {"type": "steps", "start": 10, "step": 5, "every": 1,
                                     "count": 3}},
    ]})
    a, b, c, d, e = (w.plan() for w in sc.workloads)
    assert sc.length_s == 4
    assert mean_rate(a, 4) == pytest.approx((2 * 10 + 2 * 20) / 4)  # ramp 10 → 30 over 2 s
    assert [(x.at_s, x.rps) for x in b] == [(0, 1), (0.5, 2), (1.0, 3)]
    assert [(x.at_s, x.rps) for x in c] == [(0, 5), (1, 50), (2, 5)]
    assert len(d) == 4 and all(5 <= x.rps <= 15 for x in d)
    assert [x.rps for x in e] == [10, 15, 20]


def test_thresholds_parse_and_evaluate() -> None:
    ts = [Threshold.parse(t) for t in ("p99_ms < 250", "error_rate < 0.01",
                                       "achieved_rate > 0.99 * target")]
    seen = Observed(requests=100, errors=2, latencies_ms=[1.0] * 98, duration_s=1.0,
                    target_rps=100.0)
    verdicts = evaluate("w", ts, seen)
    assert [v.passed for v in verdicts] == [True, False, True]
    assert verdicts[2].limit == pytest.approx(99.0)
    with pytest.raises(ValueError, match="unknown metric"):
        Threshold.parse("p42 < 1")
