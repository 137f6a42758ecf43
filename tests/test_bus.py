"""The one Redis boundary against real servers: error mapping (sync, async, pipelines, pub/sub),
ACL users and TLS on a real ``redis-server`` started here, and the CLI's one line on bus loss."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo import bus
from galileo.settings import Settings
from redis_server import RedisServer, free_port

GALILEO = str(Path(sys.executable).parent / "galileo")
PASSWORD = "s3cret-pw"


def make_certs(d: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 it signed (openssl, valid one day)."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "1", "-subj", "/CN=galileo-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.crt", "-days", "1", "-extfile", "ext")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt install openssl)")
    d = tmp_path_factory.mktemp("tls")
    make_certs(d)
    server = RedisServer(d, tls=True, config=(
        f"tls-cert-file {d / 'srv.crt'}\ntls-key-file {d / 'srv.key'}\n"
        f"tls-ca-cert-file {d / 'ca.crt'}\ntls-auth-clients no\n"
        f"user default off\nuser alice on >{PASSWORD} ~* &* +@all\n"))
    server.start()
    yield server
    server.stop()


def tls_settings(server: RedisServer, **env: str) -> Settings:
    return Settings.from_env({
        "galileo_redis_url": server.url, "galileo_redis_username": "alice",
        "galileo_redis_password": PASSWORD, "galileo_redis_tls_ca": str(server.dir / "ca.crt"),
        "galileo_namespace": "tlstest", **env})


def test_tls_with_an_acl_user_sync_and_async(tls_server: RedisServer) -> None:
    settings = tls_settings(tls_server)
    client = bus.connect(settings)
    assert client.set("tlstest:k", b"v") and client.get("tlstest:k") == b"v"
    assert client.acl_whoami() == "alice"

    async def roundtrip() -> bytes:
        aclient = bus.connect_async(settings)
        try:
            async with aclient.pipeline(transaction=True) as pipe:
                pipe.set("tlstest:a", b"1")
                pipe.get("tlstest:a")
                _, value = await pipe.execute()
            return bytes(value)
        finally:
            await aclient.aclose()

    assert asyncio.run(roundtrip()) == b"1"
    client.close()


@pytest.mark.parametrize(("env", "error", "sentence"), [
    ({"galileo_redis_password": "wrong"}, bus.BusAuthError,
     "refused the credentials: invalid username-password pair"),
    ({"galileo_redis_username": "mallory"}, bus.BusAuthError, "refused the credentials"),
    ({"galileo_redis_tls_ca": "SRV"}, bus.BusUnavailable, "certificate verify failed"),
])
def test_tls_and_acl_refusals_are_one_sentence(tls_server: RedisServer, env: dict[str, str],
                                               error: type[bus.BusError], sentence: str) -> None:
    if env.get("galileo_redis_tls_ca") == "SRV":  # a CA that did not sign the server's cert
        env = {"galileo_redis_tls_ca": str(tls_server.dir / "srv.crt")}
    with pytest.raises(error) as info:
        bus.connect(tls_settings(tls_server, **env))
    assert str(info.value).startswith(f"Redis at 127.0.0.1:{tls_server.port} refused") or \
        str(info.value).startswith(f"cannot reach Redis at 127.0.0.1:{tls_server.port}: ")
    assert sentence in str(info.value) and "\n" not in str(info.value)
    assert PASSWORD not in str(info.value) and "wrong" not in str(info.value)


def test_worker_registers_over_tls(tls_server: RedisServer) -> None:
    from galileo.protocol import Keys
    from galileo.worker import Worker

    settings = tls_settings(tls_server, galileo_worker_name="w-tls")
    client = bus.connect(settings)

    async def run() -> bool:
        worker = Worker(settings, processes=1)
        await worker.start()
        try:
            return bool(client.sismember(Keys("tlstest").workers, "w-tls"))
        finally:
            await worker.stop()

    assert asyncio.run(run())
    assert not client.sismember(Keys("tlstest").workers, "w-tls")  # de-registered


def test_cli_prints_one_line_and_exits_3_on_bus_loss(tls_server: RedisServer) -> None:
    base = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    for env, expected in (
        ({"galileo_redis_url": f"redis://127.0.0.1:{free_port()}/0"}, "cannot reach Redis at"),
        ({"galileo_redis_url": tls_server.url, "galileo_redis_username": "alice",
          "galileo_redis_password": "wrong",
          "galileo_redis_tls_ca": str(tls_server.dir / "ca.crt")}, "refused the credentials"),
    ):
        result = subprocess.run([GALILEO, "workers"], env={**base, **env}, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 3, result.stderr
        assert result.stderr.startswith("error: ") and expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_errors_are_mapped_everywhere(settings: Settings, namespace: str) -> None:
    client = bus.connect(settings)
    key = f"{namespace}:str"  # the test's own key
    client.set(key, b"x")
    with pytest.raises(bus.BusError, match="WRONGTYPE") as info:
        client.hget(key, "f")
    assert not isinstance(info.value, bus.BusUnavailable)
    with pytest.raises(bus.BusError, match="WRONGTYPE"), client.pipeline() as pipe:
        pipe.hget(key, "f")
        pipe.execute()

    async def async_errors() -> None:
        aclient = bus.connect_async(settings)
        with pytest.raises(bus.BusError, match="WRONGTYPE"):
            await aclient.hget(key, "f")
        await aclient.aclose()
        down = bus.connect_async(Settings.from_env(
            {"galileo_redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
        pubsub = down.pubsub()
        with pytest.raises(bus.BusUnavailable, match=r"cannot reach Redis at 127\.0\.0\.1:"):
            await pubsub.subscribe("x")
        await down.aclose()

    asyncio.run(async_errors())
    client.delete(key)
    client.close()


def test_outage_is_logged_once_per_state_change(caplog: pytest.LogCaptureFixture) -> None:
    outage = bus.Outage(logging.getLogger("t"), "worker w1")
    with caplog.at_level(logging.WARNING):
        assert outage.failed(bus.BusUnavailable("cannot reach Redis at h:1: refused"))
        assert not outage.failed(bus.BusUnavailable("again"))
        assert outage.ok() and not outage.ok()
    assert [r.getMessage() for r in caplog.records] == [
        "worker w1: cannot reach Redis at h:1: refused; retrying with backoff",
        "worker w1: Redis reachable again"]
    backoff = bus.Backoff(base_s=0.1, cap_s=2.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert 0.05 <= delays[0] <= 0.1 and all(d <= 2.0 for d in delays) and delays[-1] >= 1.0
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_celery_broker_url_carries_the_tls_settings(tls_server: RedisServer) -> None:
    kombu = pytest.importorskip("kombu")
    settings = Settings.from_env({
        "galileo_redis_host": "127.0.0.1", "galileo_redis_port": str(tls_server.port),
        "galileo_redis_tls": "true", "galileo_redis_username": "alice",
        "galileo_redis_password": PASSWORD, "galileo_redis_tls_ca": str(tls_server.dir / "ca.crt"),
    })
    url = settings.broker_connection_url()
    assert url.startswith(f"rediss://alice:{PASSWORD}@127.0.0.1:{tls_server.port}/0?")
    with kombu.Connection(url, connect_timeout=5) as conn:
        queue = conn.SimpleQueue("tlstest.broker")
        queue.put({"job": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"job": 1}
        message.ack()
        queue.close()


def test_a_used_pipeline_is_freed_without_the_cyclic_collector(settings: Settings,
                                                              namespace: str) -> None:
    """A load process ships traces through a pipeline per batch and rarely runs a full
    collection: a pipeline must be freed by reference counting alone (a cycle through its
    wrapper once grew workers by megabytes an hour)."""
    import gc
    import weakref

    key = f"{namespace}:pipe-free"

    async def async_round() -> weakref.ref[object]:
        client = bus.connect_async(settings)
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(key, "a")
                await pipe.execute()
                raw = weakref.ref(pipe._raw)
            del pipe
            return raw
        finally:
            await client.aclose()

    gc.collect()
    gc.disable()
    try:
        with bus.connect(settings) as client:
            pipe = client.pipeline(transaction=False)
            pipe.set(key, "b")
            pipe.execute()
            raw = weakref.ref(pipe._raw)
            del pipe
            assert raw() is None, "the sync pipeline waits for the cyclic collector"
            client.delete(key)
        assert asyncio.run(async_round())() is None, "the async pipeline waits for the collector"
    finally:
        gc.enable()
