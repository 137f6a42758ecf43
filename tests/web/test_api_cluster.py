"""Workers, client groups and the routing table through the REST API (real Redis and worker);
``galileo api`` itself over a real socket: loopback by default, closed without a token."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import psutil
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cliprocess import galileo_env, serving
from galileo.cli.api import open_bind_warning
from galileo.control import Galileo
from galileo.load.localserver import LocalServer
from galileo.localenv import free_port, wait_for_port
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus
from waiting import until


def test_openapi_schema_lists_every_resource(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/experiments", "/experiments/{exp_id}/traces.csv", "/workers", "/groups",
            "/groups/{gid}/rps", "/routing/{service}"} <= paths
    assert "securitySchemes" not in schema.get("components", {})  # no token configured


def test_workers_lists_the_live_worker(api: TestClient, real_worker: str) -> None:
    response = api.get("/workers")
    assert response.status_code == 200
    assert [w["name"] for w in response.json()] == [real_worker]
    assert api.get("/workers", params={"label": "zone=nowhere"}).json() == []
    bad = api.get("/workers", params={"label": "zone"})
    assert bad.status_code == 400
    assert "name=value" in bad.json()["detail"]


def test_group_spawn_rate_close_round_trip(api: TestClient, real_worker: str,
                                           http_server: LocalServer, settings: Settings) -> None:
    assert api.put("/routing/echo", json={"hosts": [http_server.address]}).status_code == 200
    created = api.post("/groups", json={"service": "echo", "num": 2, "rps": 0})
    assert created.status_code == 201, created.text
    group = created.json()
    gid = group["gid"]
    assert group["placement"] == {real_worker: group["placement"][real_worker]}
    assert len(group["placement"][real_worker]) == 2

    rate = api.put(f"/groups/{gid}/rps", json={"rps": 20})
    assert rate.status_code == 200, rate.text
    assert rate.json()["shares"] == {real_worker: 20.0}
    assert api.get(f"/groups/{gid}").json()["rps"] == 20.0
    with Galileo(settings) as g:  # the controller sees the same group
        assert g.group(gid).target_rps == 20.0

    assert [x["gid"] for x in api.get("/groups").json()] == [gid]
    assert api.delete(f"/groups/{gid}").status_code == 204
    assert api.get(f"/groups/{gid}").status_code == 404
    assert api.get("/groups").json() == []


def test_spawn_without_matching_worker_is_409(api: TestClient) -> None:
    response = api.post("/groups", json={"service": "echo", "hosts": "nobody-*"})
    assert response.status_code == 409
    assert "no live worker" in response.json()["detail"]


def test_group_rate_input_is_validated(api: TestClient) -> None:
    response = api.put("/groups/abc/rps", json={"rps": -1})
    assert response.status_code == 422
    assert response.json()["message"].startswith("body.rps:")
    assert api.put("/groups/abc/rps", json={"rps": 5}).status_code == 404


def test_routing_set_get_remove(api: TestClient, settings: Settings) -> None:
    put = api.put("/routing/web", json={"hosts": ["10.0.0.1:80", "10.0.0.2:80"],
                                        "weights": [1, 3]})
    assert put.status_code == 200
    assert put.json() == {"service": "web", "hosts": ["10.0.0.1:80", "10.0.0.2:80"],
                          "weights": [1.0, 3.0], "version": 1}
    with Galileo(settings) as g:
        record = g.rtbl.get("web")
        assert record is not None and record.weights == [1.0, 3.0]
    assert api.get("/routing").json()[0]["service"] == "web"
    assert api.get("/routing/web").json()["version"] == 1
    assert api.delete("/routing/web").status_code == 204
    assert api.get("/routing/web").status_code == 404
    assert api.delete("/routing/web").status_code == 404


def test_bad_routing_record_is_400_with_the_reason(api: TestClient) -> None:
    response = api.put("/routing/web", json={"hosts": ["not a host"]})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "routing record for 'web': bad host 'not a host' (expected host:port)"}
    mismatch = api.put("/routing/web", json={"hosts": ["a:1"], "weights": [1, 2]})
    assert mismatch.status_code == 400
    assert "1 hosts but 2 weights" in mismatch.json()["detail"]


def test_bearer_token_is_required_when_configured(api_factory: Callable[..., TestClient]) -> None:
    api = api_factory(api_token="s3cret")
    assert api.get("/routing").status_code == 401
    assert api.get("/routing", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = api.get("/routing", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert api.get("/openapi.json").status_code == 200
    assert "HTTPBearer" in api.get("/openapi.json").json()["components"]["securitySchemes"]


def test_cors_is_off_by_default_and_configurable(api_factory: Callable[..., TestClient]) -> None:
    closed = api_factory()
    preflight = {"Origin": "https://dash.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in closed.options("/routing",
                                                              headers=preflight).headers
    opened = api_factory(api_cors_origins="https://dash.example, https://other.example")
    answer = opened.options("/routing", headers=preflight)
    assert answer.headers["access-control-allow-origin"] == "https://dash.example"


def test_unreachable_redis_is_503(api_factory: Callable[..., TestClient]) -> None:
    api = api_factory(redis_url="redis://127.0.0.1:1/0")
    response = api.get("/workers")
    assert response.status_code == 503
    assert "cannot reach Redis" in response.json()["detail"]


def test_served_by_uvicorn_over_real_http(settings: Settings) -> None:
    import socket
    import threading

    import httpx
    import uvicorn

    from galileo.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/openapi.json").json()["info"]["title"] == "Galileo API"
            assert http.put("/routing/web", json={"hosts": ["10.0.0.1:80"]}).status_code == 200
            assert http.get("/routing/web").json()["hosts"] == ["10.0.0.1:80"]
    finally:
        server.should_exit = True
        thread.join(10)


def test_api_refuses_an_open_interface_without_a_token(settings: Settings) -> None:
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "galileo", "api", "--host", "0.0.0.0",
                           "--port", str(port)], env=galileo_env(settings), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "without galileo_api_token" in lines[0], done.stderr
    assert "--allow-open" in lines[0] and "Traceback" not in done.stderr
    opted_out = open_bind_warning("0.0.0.0", port, settings, allow_open=True)
    assert opted_out is not None and "NO TOKEN" in opted_out
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        assert open_bind_warning(host, port, settings, allow_open=False) is None
    with_token = settings.model_copy(update={"api_token": SecretStr("t")})
    assert open_bind_warning("0.0.0.0", port, with_token, allow_open=False) is None


def test_api_over_a_socket_binds_loopback_and_writes_need_the_token(
        settings: Settings) -> None:
    """Default bind (loopback) with a token, over a real socket: reads and writes without the
    token are 401, a delete with it moves the experiment to the trash, restore brings it back."""
    with ExpDB.from_settings(settings) as db:
        db.create_experiment("x", exp_id="sock-1", status=ExperimentStatus.FINISHED)
    port = free_port()
    env = galileo_env(settings, galileo_api_token="t0k")
    with serving(["api", "--port", str(port)], env) as proc:
        wait_for_port("127.0.0.1", port, timeout_s=60)
        listening = {c.laddr for c in psutil.Process(proc.pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN}
        assert {(a.ip, a.port) for a in listening} == {("127.0.0.1", port)}
        auth = {"Authorization": "Bearer t0k"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/health").status_code == 200
            assert http.get("/experiments").status_code == 401
            for method, path in [("DELETE", "/experiments/sock-1"),
                                 ("DELETE", "/experiments/sock-1?purge=true"),
                                 ("PUT", "/routing/web"), ("POST", "/groups"),
                                 ("POST", "/experiments"), ("POST", "/experiments/sock-1/cancel")]:
                assert http.request(method, path, json={}).status_code == 401, (method, path)
            assert http.delete("/experiments/sock-1", headers=auth).status_code == 204
            trash = http.get("/experiments", params={"trash": True}, headers=auth).json()
            assert [e["id"] for e in trash] == ["sock-1"]
            assert http.post("/experiments/sock-1/restore", headers=auth).status_code == 200
            assert http.get("/experiments/sock-1", headers=auth).json()["deleted_at"] is None


def test_the_api_hosts_the_watchdog_so_state_survives_an_empty_redis_without_a_recorder(
        settings: Settings, redis_client: redis.Redis) -> None:
    """Only ``galileo api`` runs: Redis loses the namespace, the API's watchdog puts the routing
    table back within 5 s; SIGTERM stops the API (and its watchdog) within 5 s."""
    port = free_port()
    env = galileo_env(settings)
    with Galileo(settings) as g, serving(["api", "--port", str(port)], env) as proc:
        wait_for_port("127.0.0.1", port, timeout_s=60)
        g.rtbl.set("web", "10.0.0.1:80,10.0.0.2:80", "1,3")
        before = g.rtbl.get("web")
        until(lambda: redis_client.get(g.keys.watchdog_lock) is not None, 10, "the watchdog")
        time.sleep(1.5)  # a snapshot that holds the record
        redis_client.delete(*redis_client.scan_iter(f"{g.keys.ns}:*"))
        t0 = time.monotonic()
        until(lambda: g.rtbl.get("web") == before, 5, "the routing record restored")
        assert time.monotonic() - t0 <= 5
        proc.terminate()
        t0 = time.monotonic()
        proc.wait(10)
        assert time.monotonic() - t0 <= 5 and proc.returncode in (0, -15)  # uvicorn re-raises
