"""Experiments through the REST API with the real ExperimentService (real Redis broker queue,
real SQLite expdb): submit → QUEUED, status, cancel → CANCELLED, traces/telemetry, delete."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from galileo.protocol import Trace
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus
from galileo.storage.schema import telemetry

SCRIPT = "spawn * echo 2\nrps * echo 10\nsleep 1\nclose * echo\n"
pytestmark = pytest.mark.usefixtures("routed")  # SCRIPT spawns echo


def _submit(api: TestClient, **body: object) -> dict[str, object]:
    response = api.post("/experiments", json={"script": SCRIPT, **body})
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_submit_queues_a_row_in_the_expdb(api: TestClient, settings: Settings) -> None:
    created = _submit(api, id="exp-rest-1", name="first", creator="alice")
    assert created["id"] == "exp-rest-1"
    assert created["status"] == "QUEUED"
    with ExpDB.from_settings(settings) as db:
        row = db.get_experiment("exp-rest-1")
    assert row is not None and row.status == ExperimentStatus.QUEUED and row.creator == "alice"
    assert api.get("/experiments/exp-rest-1").json()["name"] == "first"
    status = api.get("/experiments/exp-rest-1/status").json()
    assert status["status"] == "QUEUED" and status["progress"] == 0.0


def test_cancel_of_a_queued_experiment(api: TestClient) -> None:
    _submit(api, id="exp-rest-2")
    cancelled = api.post("/experiments/exp-rest-2/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    assert api.get("/experiments/exp-rest-2/status").json()["status"] == "CANCELLED"


def test_list_filters_and_pages(api: TestClient) -> None:
    for i in range(3):
        _submit(api, id=f"exp-list-{i}", creator="bob" if i < 2 else "carol")
    api.post("/experiments/exp-list-0/cancel")
    ids = {e["id"] for e in api.get("/experiments").json()}
    assert ids == {"exp-list-0", "exp-list-1", "exp-list-2"}
    bob = api.get("/experiments", params={"creator": "bob"}).json()
    assert {e["id"] for e in bob} == {"exp-list-0", "exp-list-1"}
    cancelled = api.get("/experiments", params={"status": "CANCELLED"}).json()
    assert [e["id"] for e in cancelled] == ["exp-list-0"]
    page1 = api.get("/experiments", params={"limit": 2}).json()
    page2 = api.get("/experiments", params={"limit": 2, "offset": 2}).json()
    assert len(page1) == 2 and len(page2) == 1
    assert {e["id"] for e in page1 + page2} == ids
    assert api.get("/experiments", params={"status": "BOGUS"}).status_code == 422


def test_bad_script_is_400_naming_the_line(api: TestClient) -> None:
    response = api.post("/experiments", json={"script": "spawn echo 2\nfly away\n"})
    assert response.status_code == 400
    assert "line 2" in response.json()["detail"]


def test_script_and_scenario_together_is_422(api: TestClient) -> None:
    response = api.post("/experiments", json={"script": SCRIPT, "scenario": "duration: 1"})
    assert response.status_code == 422
    assert "Extra inputs are not permitted" in response.json()["message"]
    assert api.post("/experiments", json={"name": "nothing"}).status_code == 422


def test_duplicate_id_is_400(api: TestClient) -> None:
    _submit(api, id="exp-dup")
    again = api.post("/experiments", json={"script": SCRIPT, "id": "exp-dup"})
    assert again.status_code == 400
    assert "already exists" in again.json()["detail"]


def test_unknown_experiment_is_404_everywhere(api: TestClient) -> None:
    for method, path in [("GET", ""), ("GET", "/status"), ("POST", "/cancel"),
                         ("DELETE", ""), ("GET", "/traces"), ("GET", "/traces.csv"),
                         ("GET", "/telemetry"), ("GET", "/telemetry.csv")]:
        response = api.request(method, f"/experiments/nope{path}")
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "unknown experiment 'nope'"}


def _trace(exp_id: str, i: int) -> Trace:
    base = time.time_ns()
    return Trace(request_id=f"{exp_id}-{i:04d}", exp_id=exp_id, group_id="g1", client_id="c1",
                 worker="w1", service="echo", host="127.0.0.1:8080", method="GET", path="/",
                 intended_ns=base + i, sent_ns=base + i * 1000, done_ns=base + i * 1000 + 500,
                 status=200)


def test_traces_page_and_csv_export(api: TestClient, settings: Settings) -> None:
    _submit(api, id="exp-traces")
    with ExpDB.from_settings(settings) as db:
        db.insert_traces([_trace("exp-traces", i) for i in range(25)])
        db.insert_traces([_trace("other", i) for i in range(3)])
    page = api.get("/experiments/exp-traces/traces", params={"limit": 10, "offset": 20}).json()
    assert page["total"] == 25 and page["limit"] == 10 and page["offset"] == 20
    assert [t["request_id"] for t in page["items"]] == [f"exp-traces-{i:04d}"
                                                        for i in range(20, 25)]
    response = api.get("/experiments/exp-traces/traces.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 25
    assert rows[0]["request_id"] == "exp-traces-0000" and rows[0]["status"] == "200"


def test_telemetry_page_and_csv_export(api: TestClient, settings: Settings) -> None:
    _submit(api, id="exp-telem")
    with ExpDB.from_settings(settings) as db, db.transaction() as tx:
        tx.conn.execute(telemetry.insert(), [
            {"exp_id": "exp-telem", "node": "n1", "metric": "cpu", "subsystem": "",
             "ts_ns": 1_000 + i, "value": float(i)} for i in range(7)])
    page = api.get("/experiments/exp-telem/telemetry", params={"limit": 5}).json()
    assert page["total"] == 7
    assert [s["value"] for s in page["items"]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    text = api.get("/experiments/exp-telem/telemetry.csv").text
    lines = text.strip().splitlines()
    assert lines[0] == "exp_id,node,metric,subsystem,ts_ns,value,window_ns"
    assert len(lines) == 8 and lines[-1] == "exp-telem,n1,cpu,,1006,6.0,0"


def test_delete_moves_to_the_trash_and_restore_brings_all_back(
        api: TestClient, settings: Settings) -> None:
    _submit(api, id="exp-del")
    with ExpDB.from_settings(settings) as db:
        db.insert_traces([_trace("exp-del", i) for i in range(3)])
    assert api.delete("/experiments/exp-del").status_code == 204
    gone = api.get("/experiments/exp-del")
    assert gone.status_code == 404 and "in the trash" in gone.json()["detail"]
    assert api.delete("/experiments/exp-del").status_code == 404  # already there
    assert "exp-del" not in {e["id"] for e in api.get("/experiments").json()}
    trash = api.get("/experiments", params={"trash": True}).json()
    assert [(e["id"], e["status"]) for e in trash] == [("exp-del", "CANCELLED")]  # never runs
    assert trash[0]["deleted_at"] > 0
    restored = api.post("/experiments/exp-del/restore")
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    assert api.get("/experiments/exp-del/traces").json()["total"] == 3
    assert api.post("/experiments/exp-del/restore").status_code == 404  # not in the trash


def test_purge_needs_a_token_protected_api(api_factory: Callable[..., TestClient],
                                           settings: Settings) -> None:
    open_api = api_factory()
    _submit(open_api, id="exp-purge")
    with ExpDB.from_settings(settings) as db:
        db.insert_traces([_trace("exp-purge", i) for i in range(3)])
    refused = open_api.delete("/experiments/exp-purge", params={"purge": True})
    assert refused.status_code == 403 and "galileo_api_token" in refused.json()["detail"]
    assert open_api.get("/experiments/exp-purge").status_code == 200
    closed = api_factory(api_token="s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    assert closed.delete("/experiments/exp-purge", params={"purge": True}).status_code == 401
    assert closed.delete("/experiments/exp-purge").status_code == 401
    assert closed.delete("/experiments/exp-purge", headers=auth).status_code == 204  # trash
    assert closed.delete("/experiments/exp-purge", params={"purge": True},
                         headers=auth).status_code == 204  # and out of it, for good
    assert closed.get("/experiments/exp-purge", headers=auth).json() == {
        "detail": "unknown experiment 'exp-purge'"}
    with ExpDB.from_settings(settings) as db:
        assert db.count_traces("exp-purge") == 0 and db.get_experiment("exp-purge") is None


@pytest.mark.parametrize("path", ["/experiments/bad%20id", "/experiments/" + "x" * 65])
def test_malformed_ids_are_422(api: TestClient, path: str) -> None:
    assert api.get(path).status_code == 422


def test_unreachable_expdb_is_503(api_factory: Callable[..., TestClient]) -> None:
    api = api_factory(expdb_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = api.get("/experiments")
    assert response.status_code == 503
    assert "127.0.0.1:1" in response.json()["detail"]
