"""Testbed test helpers: one real testbed (namespaces, bridge, redis-server, recorder, workers,
telemd, echo per host) per test module, always taken down; skipped only without root."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from galileo.errors import ConfigError
from galileo.testbed import Testbed
from galileo.testbed.netns import check_privileges


def require_root() -> None:
    try:
        check_privileges()
    except ConfigError as e:
        pytest.skip(f"testbed tests need root or CAP_NET_ADMIN + CAP_SYS_ADMIN: {e}")


@contextlib.contextmanager
def running_testbed(data_dir: Path, prefix: str, hosts: int, **kwargs: Any) -> Iterator[Testbed]:
    """A testbed for the duration of the block; removes leftovers of an earlier crashed run."""
    require_root()
    Testbed.down_prefix(data_dir, prefix)
    with Testbed.up(hosts, data_dir=data_dir, prefix=prefix, **kwargs) as tb:
        yield tb


def expdb_rows(tb: Testbed, exp_id: str) -> list[dict[str, Any]]:
    """Every trace of ``exp_id`` that reached the testbed's expdb."""
    from galileo.storage.expdb import ExpDB

    with ExpDB(f"sqlite:///{tb.expdb_path}") as db:
        return db.traces(exp_id)


def expdb_events(tb: Testbed, exp_id: str | None = None) -> list[dict[str, Any]]:
    from galileo.storage.expdb import ExpDB

    with ExpDB(f"sqlite:///{tb.expdb_path}") as db:
        return db.events(exp_id)


def group_rows(tb: Testbed, gid: str) -> list[dict[str, Any]]:
    """Every trace of client group ``gid`` in the testbed's expdb, whatever its experiment tag."""
    from galileo.storage.expdb import ExpDB

    with ExpDB(f"sqlite:///{tb.expdb_path}") as db:
        return [r for r in db.traces() if r["group_id"] == gid]
