"""Alembic migrations of the expdb. ``schema.py`` stays the single source of the schema: a new
database is created from it and stamped at head; an existing one is upgraded to head. A
database made before migrations existed (no ``alembic_version``) is stamped at the initial
revision first. Safe when several processes start at once: the upgrade runs under a lock
held across processes (a file lock for SQLite, an advisory lock on MariaDB/MySQL and
PostgreSQL), so two of them never both create or stamp a new database."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import sqlalchemy as sa

# before alembic is imported: its plugin set-up logs INFO lines on every start otherwise
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402

from galileo.errors import StorageError  # noqa: E402
from galileo.storage._engine import redact  # noqa: E402
from galileo.storage.schema import metadata  # noqa: E402

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
INITIAL: Final = "0001"
ATTEMPTS: Final = 5
LOCK_NAME: Final = "galileo_expdb_migrations"
PG_LOCK_KEY: Final = 0x67616C69  # "gali"
LOCK_TIMEOUT_S: Final = 120


def config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(config()).get_current_head()
    assert rev is not None
    return rev


def upgrade(engine: sa.Engine) -> None:
    """Bring the database at ``engine`` to the newest schema (silent unless a migration runs)."""
    for attempt in range(ATTEMPTS):
        try:
            _upgrade_once(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as e:
            text = str(e).lower()
            racing = any(w in text for w in ("exist", "duplicate", "locked", "unique"))
            if not racing or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _upgrade_once(engine: sa.Engine) -> None:
    target = head()
    with engine.connect() as conn:  # the common case, without taking the lock
        heads = MigrationContext.configure(conn).get_current_heads()
        if heads == (target,):
            return
        if len(heads) > 1:
            raise StorageError(
                f"the experiment database at {redact(engine.url)} records several schema "
                f"revisions ({', '.join(heads)}) in its alembic_version table; delete the rows "
                "of those it does not have and open it again")
    with _migration_lock(engine):
        _upgrade_locked(engine, target)


def _upgrade_locked(engine: sa.Engine, target: str) -> None:
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == target:
            return  # another process finished while this one waited for the lock
        if current is None and not sa.inspect(conn).has_table("experiments"):
            metadata.create_all(conn)
            _stamp(conn, target)
            return
        if current is None:
            _stamp(conn, INITIAL)  # made by create_all before migrations existed
    with engine.begin() as conn, _alembic_logs_at(logging.INFO):
        current = MigrationContext.configure(conn).get_current_revision()
        log.info("upgrading the experiment database at %s from revision %s to %s",
                 redact(engine.url), current, target)
        cfg = config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    """Hold a lock that every Galileo process upgrading this database takes, across hosts for
    the server databases (the lock lives in the server) and on this host for SQLite files."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        db = engine.url.database
        if not db or db == ":memory:" or db.startswith("file:"):
            yield
            return
        with open(f"{Path(db).expanduser()}-migrate-lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            unlock = sa.text("SELECT pg_advisory_unlock(:k)")
            params: dict[str, object] = {"k": PG_LOCK_KEY}
        else:  # MariaDB / MySQL
            got = conn.execute(sa.text("SELECT GET_LOCK(:n, :t)"),
                               {"n": LOCK_NAME, "t": LOCK_TIMEOUT_S}).scalar()
            if got != 1:
                raise sa.exc.OperationalError(
                    "GET_LOCK", {}, Exception(
                        f"another process held the migration lock for {LOCK_TIMEOUT_S} s"))
            unlock = sa.text("SELECT RELEASE_LOCK(:n)")
            params = {"n": LOCK_NAME}
        conn.commit()
        try:
            yield
        finally:
            conn.execute(unlock, params)
            conn.commit()


@contextlib.contextmanager
def _alembic_logs_at(level: int) -> Iterator[None]:
    """Let alembic say what it does while a migration actually runs."""
    logger = logging.getLogger("alembic")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def _stamp(conn: sa.Connection, revision: str) -> None:
    cfg = config()
    cfg.attributes["connection"] = conn
    command.stamp(cfg, revision)
