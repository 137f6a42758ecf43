"""The original Galileo's (0.x) REST routes under ``/api`` with their original shapes, mapped
onto today's scenarios and queue (real app, Redis, SQLite and an in-process real worker)."""

from __future__ import annotations

import yaml
from fastapi.testclient import TestClient

from galileo.control import Galileo
from galileo.experiments import store
from galileo.settings import Settings
from galileo.storage import ExpDB

BODY = {"experiment": {"name": "my_experiment", "creator": "research star"},
        "configuration": {"duration": "10s", "interval": "2s", "workloads": [
            {"service": "alexnet", "ticks": [1, 2, 3, 1, 1], "clients_per_host": 2,
             "arrival_pattern": "exponential"}]}}


def test_routes_are_listed_and_in_openapi(api: TestClient) -> None:
    routes = api.get("/api").json()
    assert {"method": "POST", "path": "/api/experiments"} in routes
    assert {"method": "DELETE", "path": "/api/experiments/{exp_id}"} in routes
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/api/worker", "/api/services", "/api/experiments",
            "/api/experiments/{exp_id}"} <= set(paths)


def test_post_without_workers_is_503_like_0x(api: TestClient) -> None:
    reply = api.post("/api/experiments", json=BODY)
    assert reply.status_code == 503
    assert "no available hosts" in reply.text


def test_original_experiment_round_trip(api: TestClient, real_worker: str,
                                        settings: Settings) -> None:
    assert api.get("/api/worker").json() == [real_worker]
    with Galileo.from_settings(settings) as g:
        g.rtbl.set("alexnet", ["127.0.0.1:9"])
    assert api.get("/api/services").json() == [{"name": "alexnet"}]

    reply = api.post("/api/experiments", json=BODY)
    assert reply.status_code == 200, reply.text
    exp_id = reply.json()
    assert isinstance(exp_id, str)
    shown = api.get(f"/api/experiments/{exp_id}").json()
    assert (shown["name"], shown["creator"], shown["status"]) == (
        "my_experiment", "research star", "QUEUED")
    assert set(shown) == {"id", "name", "creator", "created", "start", "end", "status"}
    assert [e["id"] for e in api.get("/api/experiments").json()] == [exp_id]

    with ExpDB.from_settings(settings) as db:
        scenario = yaml.safe_load(store.get_metadata(db, exp_id)["source"])
    workload = scenario["workloads"][0]
    assert scenario["duration"] == 10.0
    assert workload["clients"] == 2  # clients_per_host x one live worker
    assert workload["arrival"] == "poisson"
    assert [(s["duration"], s["rps"]) for s in workload["profile"]["stages"]] == [
        (2.0, 1.0), (2.0, 2.0), (2.0, 3.0), (2.0, 1.0), (2.0, 1.0)]

    assert api.delete(f"/api/experiments/{exp_id}").json() == exp_id
    assert api.get(f"/api/experiments/{exp_id}").status_code == 404


def test_bad_configuration_names_the_field(api: TestClient, real_worker: str) -> None:
    bad = {"configuration": {**BODY["configuration"], "workloads": [  # type: ignore[dict-item]
        {"service": "alexnet", "ticks": [1, 2]}]}}
    reply = api.post("/api/experiments", json=bad)
    assert reply.status_code == 400
    assert ("configuration.workloads[0].ticks: 2 ticks, but a 10 s run at 2 s intervals "
            "needs 5") in reply.text
    odd = {"configuration": {**BODY["configuration"], "duration": "ten"}}  # type: ignore[dict-item]
    refused = api.post("/api/experiments", json=odd)
    assert refused.status_code == 422
    assert refused.json()["message"] == ("body.configuration.duration: Value error, 'ten' is "
                                         "not a duration like '10s' or '500ms'")
