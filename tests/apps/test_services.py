"""echo/classify services and the request generators, over real HTTP."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from galileo.apps import BackgroundServer
from galileo.apps.digits import split
from galileo.apps.generators import digits, echo
from galileo.errors import ValidationError


@pytest.fixture
def client(app_server: BackgroundServer) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection(app_server.host, app_server.port, timeout=10)
    yield conn
    conn.close()


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def _classify(conn: http.client.HTTPConnection, payload: Any) -> tuple[int, Any]:
    status, body = _call(conn, "POST", "/classify", json.dumps(payload).encode(),
                         {"Content-Type": "application/json"})
    return status, json.loads(body)


def test_classify_accuracy_on_held_out_digits(client: http.client.HTTPConnection) -> None:
    _, x_test, _, y_test = split()
    status, batch = _classify(client, {"images": x_test.astype(int).tolist()})
    assert status == 200
    accuracy = sum(p == t for p, t in zip(batch["labels"], y_test.tolist(), strict=True))
    assert accuracy / len(y_test) > 0.9
    for i, image in enumerate(x_test[:20].tolist()):  # one by one, on one kept-alive connection
        status, one = _classify(client, {"image": image})
        assert status == 200 and len(one["probabilities"]) == 10
        assert abs(sum(one["probabilities"]) - 1) < 1e-3
        assert one["label"] == max(range(10), key=one["probabilities"].__getitem__)
        assert one["label"] == batch["labels"][i]


@pytest.mark.parametrize(("payload", "fragment"), [
    (b"not json", "not valid JSON"),
    ({"image": [1] * 63}, "exactly 64"),
    ({"image": [99] * 64}, "between 0 and 16"),
    ({"image": ["a"] * 64}, "Expected `float`"),
    ({"image": [1] * 64, "images": [[1] * 64]}, "exactly one of"),
    ({}, "exactly one of"),
    ({"images": []}, "between 1 and"),
    ({"pixels": [1] * 64}, "invalid classify request"),
])
def test_bad_classify_input_is_400_with_message(
    client: http.client.HTTPConnection, payload: Any, fragment: str
) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, raw = _call(client, "POST", "/classify", body, {"Content-Type": "application/json"})
    assert status == 400
    message = json.loads(raw)["error"]
    assert fragment in message and message.endswith(".")


def test_echo_get_post_and_health(client: http.client.HTTPConnection) -> None:
    assert _call(client, "GET", "/echo") == (200, b"echo\n")
    assert _call(client, "POST", "/echo/a/b", b"\x00\x01payload") == (200, b"\x00\x01payload")
    status, health = _call(client, "GET", "/health")
    assert status == 200 and json.loads(health)["services"] == ["echo", "classify"]


def test_generator_requests_are_answered_200(client: http.client.HTTPConnection) -> None:
    gen = digits()
    correct = 0
    for i in range(30):
        req = gen.next_request()
        assert req["body"] is gen.bodies[i]  # encoded once, up front
        status, body = _call(client, req["method"], req["path"], req["body"], req["headers"])
        assert status == 200
        correct += json.loads(body)["label"] == gen.labels[i][0]
    assert correct >= 25
    batched = digits(batch=8).next_request()
    status, body = _call(client, batched["method"], batched["path"], batched["body"],
                         batched["headers"])
    assert status == 200 and len(json.loads(body)["labels"]) == 8
    for size in (0, 1, 1000):
        req = echo(size=size).next_request()
        status, body = _call(client, req["method"], req["path"], req["body"], req["headers"])
        assert status == 200 and body == (req["body"] or b"echo\n")


def test_generators_refuse_bad_parameters() -> None:
    with pytest.raises(ValidationError, match="size must be between"):
        echo(size=-1)
    with pytest.raises(ValidationError, match="batch must be at least 1"):
        digits(batch=0)
