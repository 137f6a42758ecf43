"""Alembic: a database made before migrations (the initial schema, no ``alembic_version``) is
upgraded to head when an ExpDB opens it; a new one is created from schema.py at head; 0003
removes duplicate telemetry samples before adding their unique index. On the three databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext

from galileo.errors import StorageError
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


def test_0003_removes_only_duplicate_samples_and_adds_the_index(expdb_url: str) -> None:
    """A database at 0002 holding replayed telemetry (no unique index then) upgrades cleanly:
    each series and instant keeps its first row, nothing else is lost, replays are refused."""
    rows = [("n1", "cpu", "", 1, 0.5), ("n1", "cpu", "", 1, 0.5), ("n1", "cpu", "", 2, 0.7),
            ("n1", "cpu", "0", 1, 0.1), ("n2", "cpu", "", 1, 0.9), ("n1", "cpu", "", 1, 0.6),
            ("n2", "ram", "", 1, 3.0), ("n2", "ram", "", 1, 3.0)]
    with scratch_database(expdb_url, prefix="gmig") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            cfg = config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            conn.execute(sa.text(
                "INSERT INTO telemetry (exp_id, node, metric, subsystem, ts_ns, value) "
                "VALUES ('e', :n, :m, :s, :t, :v)"),
                [dict(zip("nmstv", r, strict=True)) for r in rows])
            conn.execute(sa.text("INSERT INTO experiments (id, name, creator, created, status, "
                                 "progress) VALUES ('e', '', '', 1.0, 'FINISHED', 1.0)"))
        engine.dispose()
        with ExpDB(url) as db:
            kept = [(r["node"], r["metric"], r["subsystem"], r["ts_ns"], r["value"])
                    for r in db.telemetry("e")]
            assert sorted(kept) == sorted([rows[0], rows[2], rows[3], rows[4], rows[6]])
            assert {r["window_ns"] for r in db.telemetry("e")} == {0}
            exp = db.get_experiment("e")
            assert exp is not None and exp.deleted_at is None
            with db.engine.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == head()
            with pytest.raises(StorageError), db.transaction() as tx:  # a plain INSERT now fails
                tx.conn.execute(sa.text(
                    "INSERT INTO telemetry (exp_id, node, metric, subsystem, ts_ns, value) "
                    "VALUES ('e', 'n1', 'cpu', '', 1, 0.5)"))


QUIET_PROBE = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
from galileo.storage import ExpDB
ExpDB(sys.argv[1]).close()
ExpDB(sys.argv[1]).close()
print("-- old database --", file=sys.stderr, flush=True)
ExpDB(sys.argv[2]).close()
"""


def test_opening_is_silent_unless_a_migration_runs(tmp_path: Path) -> None:
    """Daemons and ``galileo exp`` log nothing from alembic at INFO when the database is at
    head (or new); a real upgrade says what it does."""
    old = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(old)
    with engine.begin() as conn:
        cfg = config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    engine.dispose()
    new = f"sqlite:///{tmp_path / 'new.sqlite'}"
    done = subprocess.run([sys.executable, "-c", QUIET_PROBE, new, old], capture_output=True,
                          text=True, timeout=60, check=True)
    fresh, _, upgraded = done.stderr.partition("-- old database --")
    assert fresh.strip() == ""
    assert "upgrading the experiment database" in upgraded
    assert "Running upgrade 0002 -> 0003" in upgraded
