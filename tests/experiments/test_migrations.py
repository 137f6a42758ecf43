"""Alembic: a database made before migrations (the initial schema, no ``alembic_version``) is
upgraded to head when an ExpDB opens it; a new one is created from schema.py at head. On the
three databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext

from galileo.storage import ExpDB
from galileo.storage.migrations import config, head
from galileo.storage.scratch import scratch_database


def test_legacy_database_upgraded_to_head(expdb_url: str) -> None:
    with scratch_database(expdb_url, prefix="gmig") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            cfg = config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
            conn.execute(sa.text("INSERT INTO experiments (id, name, creator, created, status, "
                                 "progress) VALUES ('old-1', 'x', 'y', 1.0, 'FINISHED', 1.0)"))
            conn.execute(sa.text("DROP TABLE alembic_version"))  # as before migrations
        engine.dispose()
        with ExpDB(url) as db:
            old = db.get_experiment("old-1")
            assert old is not None and old.stage is None
            with db.engine.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == head()
                assert sa.inspect(conn).has_table("metadata")
        with ExpDB(url) as db:  # a second open is a no-op
            assert db.get_experiment("old-1") is not None


def test_new_database_is_at_head(sqlite_url: str) -> None:
    with ExpDB(sqlite_url) as db, db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head()
