"""The workload services answer their generators' requests, over real HTTP, with correct results."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from galileo.apps import BackgroundServer, serve_background
from galileo.apps.workloads import WORKLOAD_SERVICES, generators
from galileo.apps.workloads.checksum import make_blob
from galileo.apps.workloads.scenes import FRAMES, make_video
from galileo.errors import ValidationError


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with serve_background(list(WORKLOAD_SERVICES)) as srv:
        yield srv


@pytest.fixture
def conn(server: BackgroundServer) -> Iterator[http.client.HTTPConnection]:
    c = http.client.HTTPConnection(server.host, server.port, timeout=30)
    yield c
    c.close()


def call(conn: http.client.HTTPConnection, req: dict[str, Any]) -> tuple[int, bytes]:
    conn.request(req["method"], req["path"], body=req.get("body") or None,
                 headers=req.get("headers") or {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def drive(conn: http.client.HTTPConnection, gen: Any, n: int) -> list[tuple[int, bytes]]:
    return [call(conn, gen.next_request()) for _ in range(n)]


def test_kv_store_and_generator(conn: http.client.HTTPConnection) -> None:
    status, preloaded = call(conn, {"method": "GET", "path": "/kv/k42"})
    assert status == 200 and len(preloaded) == 256
    assert call(conn, {"method": "PUT", "path": "/kv/mine", "body": b"hello"})[0] == 200
    assert call(conn, {"method": "GET", "path": "/kv/mine"}) == (200, b"hello")
    assert json.loads(call(conn, {"method": "DELETE", "path": "/kv/mine"})[1]) == {"deleted": True}
    assert call(conn, {"method": "GET", "path": "/kv/mine"})[0] == 404
    answers = drive(conn, generators.kv(read_ratio=0.5, seed=1), 200)
    assert all(status == 200 for status, _ in answers)
    reads = [body for status, body in answers if not body.startswith(b"{")]
    assert 60 < len(reads) < 140 and all(len(b) == 256 for b in reads)


def test_checksum_is_sha256_of_the_blob(conn: http.client.HTTPConnection) -> None:
    blob = make_blob()
    for status, body in drive(conn, generators.checksum(kib=512), 5):
        assert status == 200
        got = json.loads(body)
        assert got["bytes"] == 512 * 1024
        expected = hashlib.sha256(blob[got["offset"]:got["offset"] + got["bytes"]]).hexdigest()
        assert got["sha256"] == expected
    assert call(conn, {"method": "GET", "path": "/checksum?kib=0"})[0] == 400


@pytest.mark.parametrize(("workload", "read_share"), [("a", 0.5), ("b", 0.95)])
def test_ycsb_mix(conn: http.client.HTTPConnection, workload: str, read_share: float) -> None:
    totals = {"ops": 0, "reads": 0}
    for status, body in drive(conn, generators.ycsb(workload, ops=500), 8):
        assert status == 200
        got = json.loads(body)
        totals["ops"] += got["ops"]
        totals["reads"] += got["reads"]
        assert got["bytes"] == got["reads"] * 1000
    assert totals["ops"] == 4000
    assert totals["reads"] / totals["ops"] == pytest.approx(read_share, abs=0.04)
    bad = call(conn, {"method": "POST", "path": f"/ycsb/{workload}", "body": b'{"ops": 0}'})
    assert bad[0] == 400


def test_scene_detection_finds_the_generated_cuts(conn: http.client.HTTPConnection) -> None:
    _, cuts = make_video()
    status, body = call(conn, {"method": "GET", "path": f"/scenes?start=0&frames={FRAMES}"})
    assert status == 200 and json.loads(body)["cuts"] == cuts
    for status, body in drive(conn, generators.scenes(frames=48), 5):
        got = json.loads(body)
        assert status == 200 and got["frames"] == 48
        assert got["cuts"] == [c for c in cuts if got["start"] < c < got["start"] + 48]


def test_superres_upscales(conn: http.client.HTTPConnection) -> None:
    answers = drive(conn, generators.superres(size=32, scale=2, seeds=2), 4)
    assert all(status == 200 for status, _ in answers)
    first, second, third = (json.loads(b) for _, b in answers[:3])
    assert first["shape"] == [64, 64, 3] and first == third and first != second
    assert call(conn, {"method": "POST", "path": "/superres", "body": b'{"size": 9999}'})[0] == 400


def test_classify_serves_as_model_inference() -> None:
    from galileo.apps.generators import digits

    with serve_background(["classify"]) as srv:
        c = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        try:
            assert all(s == 200 for s, _ in drive(c, digits(), 5))
        finally:
            c.close()


def test_generator_arguments_are_validated() -> None:
    for bad in (lambda: generators.kv(read_ratio=2), lambda: generators.ycsb("z"),
                lambda: generators.checksum(kib=0), lambda: generators.scenes(frames=1),
                lambda: generators.superres(size=1)):
        with pytest.raises(ValidationError):
            bad()
