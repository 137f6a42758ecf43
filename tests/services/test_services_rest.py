"""``/services`` on the real API app: writes need the token, bad input is a 400 with one
sentence, a declared service is deployed by the real agent and reconciler."""

from __future__ import annotations

from fastapi.testclient import TestClient
from svchelpers import AgentStarter, wait_until

from galileo.services.reconciler import Reconciler
from galileo.settings import Settings
from galileo.web.app import create_app


def test_declare_show_scale_remove_over_rest(settings: Settings, start_agent: AgentStarter,
                                             reconciler: Reconciler) -> None:
    start_agent("n1")
    guarded = Settings.model_validate({**settings.model_dump(), "api_token": "s3cret"})
    auth = {"Authorization": "Bearer s3cret"}
    with TestClient(create_app(guarded)) as api:
        assert api.put("/services/web", json={"app": "echo"}).status_code == 401
        bad = api.put("/services/web", json={"app": "nope"}, headers=auth)
        assert bad.status_code == 400 and "unknown app 'nope'" in bad.text
        done = api.put("/services/web", json={"app": "echo", "replicas": 2, "cpus": 0.2},
                       headers=auth)
        assert done.status_code == 200, done.text
        assert done.json()["replicas"] == 2 and done.json()["version"] == 1

        def ready() -> int:
            body = api.get("/services/web", headers=auth).json()
            return sum(1 for i in body["instances"] if i["state"] == "ready")

        wait_until(lambda: ready() == 2, 30, "two ready instances")
        listed = api.get("/services", headers=auth).json()
        assert [s["name"] for s in listed["services"]] == ["web"]
        assert listed["nodes"][0]["cpus_allocated"] == 0.4
        assert api.post("/services/web/scale", json={"replicas": 1},
                        headers=auth).json()["replicas"] == 1
        wait_until(lambda: len(api.get("/services/web", headers=auth).json()["instances"]) == 1,
                   15, "the scale-down")
        assert api.delete("/services/web", headers=auth).status_code == 204
        assert api.get("/services/web", headers=auth).status_code == 404
