"""The OpenAPI schema states what the API enforces: every body the API refuses for a reason a
JSON Schema can say is also invalid against ``/openapi.json`` (so a client generated from it
does not send it); and ``POST /api/experiments`` checks its body (422) before the cluster (503)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

LEGACY = {"configuration": {"duration": "10s", "interval": "2s", "workloads": [
    {"service": "echo", "ticks": [1, 2, 3, 1, 1]}]}}


def _legacy(**workload: Any) -> dict[str, Any]:
    return {"configuration": {**LEGACY["configuration"],  # type: ignore[dict-item]
                              "workloads": [{**LEGACY["configuration"]["workloads"][0],  # type: ignore[index]
                                             **workload}]}}


def _legacy_cfg(**cfg: Any) -> dict[str, Any]:
    return {"configuration": {**LEGACY["configuration"], **cfg}}  # type: ignore[dict-item]


# (method, path, body) the API refuses; bodies only the server can judge (hosts vs weights
# counts, all-zero weights, ticks per interval, a script's lines) are not listed
REFUSED: list[tuple[str, str, dict[str, Any]]] = [
    ("put", "/routing/web", {"hosts": []}),
    ("put", "/routing/web", {"hosts": ["not a host"]}),
    ("put", "/routing/web", {"hosts": ["h:0"]}),
    ("put", "/routing/web", {"hosts": ["h:70000"]}),
    ("put", "/routing/web", {"hosts": ["h:1"], "weights": [-1]}),
    ("put", "/routing/web", {"hosts": ["h:1"], "weights": []}),
    ("put", "/routing/web", {"hosts": ["h:1"], "other": 1}),
    ("post", "/experiments", {"script": ""}),
    ("post", "/experiments", {"script": "sleep 1", "id": "no spaces"}),
    ("post", "/experiments", {"script": "sleep 1", "name": "n" * 256}),
    ("post", "/api/experiments", _legacy(service="")),
    ("post", "/api/experiments", _legacy(service="a b")),
    ("post", "/api/experiments", _legacy(ticks=[-1, 1, 1, 1, 1])),
    ("post", "/api/experiments", _legacy(clients_per_host=0)),
    ("post", "/api/experiments", _legacy(arrival_pattern="bursty")),
    ("post", "/api/experiments", _legacy_cfg(duration=0)),
    ("post", "/api/experiments", _legacy_cfg(duration="0s")),
    ("post", "/api/experiments", _legacy_cfg(interval="ten")),
    ("post", "/api/experiments", {**LEGACY, "experiment": {"id": "no spaces"}}),
]


def _body_schema(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    template = "/routing/{service}" if path.startswith("/routing/") else path
    op = doc["paths"][template][method]
    ref = op["requestBody"]["content"]["application/json"]["schema"]
    return {**ref, "components": doc["components"]}


@pytest.mark.parametrize(("method", "path", "body"), REFUSED,
                         ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(REFUSED)])
def test_what_the_api_refuses_the_schema_refuses(api: TestClient, method: str, path: str,
                                                 body: dict[str, Any]) -> None:
    answer = api.request(method.upper(), path, json=body)
    assert answer.status_code in (400, 422), answer.text
    schema = _body_schema(api.get("/openapi.json").json(), method, path)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, schema)


def test_the_valid_bodies_are_valid_against_the_schema(api: TestClient) -> None:
    doc = api.get("/openapi.json").json()
    jsonschema.validate(LEGACY, _body_schema(doc, "post", "/api/experiments"))
    jsonschema.validate(_legacy_cfg(duration=10, interval=2.0), _body_schema(
        doc, "post", "/api/experiments"))
    jsonschema.validate(_legacy(arrival_pattern="Exponential"), _body_schema(
        doc, "post", "/api/experiments"))
    jsonschema.validate({"hosts": ["h:1", "http://x:8080", "[::1]:80"], "weights": [1, 0, 2]},
                        _body_schema(doc, "put", "/routing/web"))


def test_invalid_legacy_body_is_422_before_the_no_worker_503(api: TestClient) -> None:
    assert api.post("/api/experiments", json=_legacy(service="")).status_code == 422
    assert api.post("/api/experiments", json=_legacy_cfg(duration="0s")).status_code == 422
    ticks = api.post("/api/experiments", json=_legacy(ticks=[1, 2]))
    assert ticks.status_code == 400 and "2 ticks" in ticks.text  # content, still before 503
    assert api.post("/api/experiments", json=LEGACY).status_code == 503  # valid: no worker
