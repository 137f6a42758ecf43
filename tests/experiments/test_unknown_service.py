"""An unknown service is refused up front (issue 21, item 3): ``galileo run`` exits 2 with one
sentence naming the route, ``POST /experiments`` answers 422 with it, and nothing is stored --
unless the scenario routes (``routing:``) or deploys (``balancers:``, ``services:``) it. Before,
the run went ahead and ended with ``observed no data`` or all traces ``no_route``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jobhelpers import galileo

from galileo.errors import NoRouteError
from galileo.experiments.service import ExperimentService
from galileo.settings import Settings
from galileo.web import create_app

SENTENCE = "no routing record for 'nosuchsvc'; set one with `set nosuchsvc HOST:PORT`"


def scenario(**extra: Any) -> dict[str, Any]:
    return {"name": "unknown", "duration": 1, **extra,
            "workloads": [{"service": "nosuchsvc", "clients": 1,
                           "profile": {"type": "constant", "rps": 5},
                           "thresholds": ["p99_ms < 250"]}]}


def test_galileo_run_refuses_it_with_exit_2(settings: Settings, service: ExperimentService,
                                            tmp_path: Path) -> None:
    path = tmp_path / "unknown.yaml"
    path.write_text("name: unknown\nduration: 1\nworkloads:\n  - service: nosuchsvc\n"
                    "    profile: {type: constant, rps: 5}\n    thresholds: [p99_ms < 250]\n")
    done = galileo(settings, "run", str(path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    out = done.stdout + done.stderr
    assert f"error: {SENTENCE}" in out and "Traceback" not in out, out
    assert service.list() == []  # nothing half-written


def test_rest_answers_422_unless_the_scenario_routes_or_deploys_it(
        settings: Settings, service: ExperimentService) -> None:
    with TestClient(create_app(settings)) as api:
        refused = api.post("/experiments", json={"scenario": scenario()})
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"].startswith(SENTENCE)
        assert api.get("/experiments").json() == []
        for extra in ({"routing": {"nosuchsvc": {"hosts": ["127.0.0.1:9"]}}},
                      {"balancers": [{"name": "nosuchsvc", "port": 0}]},
                      {"services": [{"name": "nosuchsvc", "app": "echo"}]}):
            taken = api.post("/experiments", json={"scenario": scenario(**extra)})
            assert taken.status_code == 201, (extra, taken.text)
            service.cancel(taken.json()["id"])


def test_a_script_is_refused_too_and_a_routed_service_accepted(
        settings: Settings, service: ExperimentService) -> None:
    with pytest.raises(NoRouteError, match=SENTENCE.replace("`", ".")):
        service.submit(script="spawn * nosuchsvc 1\nsleep 1\n")
    from galileo.control.galileo import Galileo

    with Galileo(settings) as g:
        g.rtbl.set("nosuchsvc", "127.0.0.1:9")
    exp = service.submit(script="spawn * nosuchsvc 1\nsleep 1\n")
    assert service.cancel(exp.id).status.value == "CANCELLED"
