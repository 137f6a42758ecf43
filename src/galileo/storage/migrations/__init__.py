"""Alembic migrations of the expdb. ``schema.py`` stays the single source of the schema: a new
database is created from it and stamped at head; an existing one is upgraded to head. A
database made before migrations existed (no ``alembic_version``) is stamped at the initial
revision first. Safe when several processes start at once (retried)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from galileo.storage.schema import metadata

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
    """Bring the database at ``engine`` to the newest schema."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are noise here
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
    with engine.begin() as conn:
        cfg = config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _stamp(conn: sa.Connection, revision: str) -> None:
    cfg = config()
    cfg.attributes["connection"] = conn
    command.stamp(cfg, revision)
