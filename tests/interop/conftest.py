"""Real etcd and InfluxDB 1.x servers for the interop tests, started on free ports in temp dirs
(Debian's etcd-server, etcd-client and influxdb packages; `make test` installs them)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo.interop.local import LocalEtcd as Etcd
from galileo.interop.local import LocalInflux as Influx

__all__ = ["Etcd", "Influx"]


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[Etcd]:
    if shutil.which("etcd") is None or shutil.which("etcdctl") is None:
        pytest.skip("etcd/etcdctl not installed (Debian etcd-server, etcd-client; "
                    "`make test` installs them as root)")
    server = Etcd(tmp_path / "etcd", tmp_path / "etcd.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx]:
    if shutil.which("influxd") is None:
        pytest.skip("influxd not installed (Debian influxdb; `make test` installs it as root)")
    server = Influx(tmp_path_factory.mktemp("influx"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
