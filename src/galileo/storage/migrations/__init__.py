"""Alembic migrations of the expdb. ``schema.py`` stays the single source of the schema: a new
database is created from it and stamped at head; an existing one is upgraded to head. A
database made before migrations existed (no ``alembic_version``) is stamped at the initial
revision first. Safe when several processes start at once (retried)."""

from __future__ import annotations

import contextlib
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

from galileo.storage._engine import redact  # noqa: E402
from galileo.storage.schema import metadata  # noqa: E402

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
INITIAL: Final = "0001"
ATTEMPTS: Final = 5


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
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == target:
            return
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
