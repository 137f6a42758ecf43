"""The designer's server side: validate a scenario document, compute each workload's planned
rate curve and request count with the planning code ``galileo run`` uses, render it as YAML."""

from __future__ import annotations

from typing import Any

import yaml

from galileo.errors import ValidationError
from galileo.experiments.profiles import RateChange, mean_rate
from galileo.experiments.scenario import ScenarioError, parse_scenario


def curve(plan: list[RateChange], length_s: float) -> list[tuple[float, float]]:
    """Breakpoints ``(t_s, rps)`` of the planned rate (linear ramps, then holds) up to
    ``length_s``: the same semantics as :func:`~galileo.experiments.profiles.mean_rate`."""
    changes = sorted(plan, key=lambda c: c.at_s)
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    rate = 0.0
    for i, c in enumerate(changes):
        if c.at_s >= length_s:
            break
        end = min(changes[i + 1].at_s if i + 1 < len(changes) else length_s, length_s)
        ramp = min(c.ramp_s, end - c.at_s)
        reached = c.rps if c.ramp_s == 0 else rate + (c.rps - rate) * ramp / c.ramp_s
        points += [(c.at_s, rate), (c.at_s + ramp, reached), (end, reached)]
        rate = reached
    return [(round(t, 6), round(r, 6)) for t, r in points]


def preview(doc: dict[str, Any]) -> dict[str, Any]:
    """``{ok, problems, length_s, total, workloads: [{name, points, requests}], yaml}``."""
    try:
        scenario = parse_scenario(doc, source="the scenario")
    except ScenarioError as e:
        return {"ok": False, "problems": e.problems}
    except ValidationError as e:
        return {"ok": False, "problems": [str(e)]}
    length = scenario.length_s
    workloads = []
    for w in scenario.workloads:
        plan = w.plan()
        workloads.append({"name": w.name, "points": curve(plan, length),
                          "requests": round(mean_rate(plan, length) * length)})
    return {"ok": True, "problems": [], "length_s": length,
            "total": sum(w["requests"] for w in workloads), "workloads": workloads,
            "yaml": to_yaml(doc)}


def to_yaml(doc: dict[str, Any]) -> str:
    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
