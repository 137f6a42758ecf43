"""Migration 0004 adds ``client_apps`` to a database at 0003, and apps larger than a MySQL
BLOB (64 KiB) round-trip byte for byte, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import command
from appkit import hello_app, make_zip

from galileo.storage import ExpDB
from galileo.storage.apps import ClientAppRepository
from galileo.storage.migrations import config
from galileo.storage.scratch import scratch_database


def test_0004_upgrade_and_large_app_round_trip(expdb_url: str) -> None:
    with scratch_database(expdb_url, prefix="gapps") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            cfg = config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
            assert not sa.inspect(conn).has_table("client_apps")
        engine.dispose()
        big = make_zip({**hello_app("big"), "data.bin": os.urandom(200_000).hex()})
        with ExpDB(url) as db:
            apps = ClientAppRepository(db)
            stored = apps.put(big)
            again = apps.put(big)  # same name: replaced, not duplicated
            assert [a.name for a in apps.list()] == ["big"]
            app, content = apps.content("big")
            assert content == big and app.sha256 == stored.sha256 == again.sha256
            apps.delete("big")
            assert apps.list() == []
