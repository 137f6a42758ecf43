"""Throw-away databases for tests and benchmarks, so concurrent runs never share tables.

``scratch_database(url)`` yields a URL pointing at a fresh, empty place on the same server:
a new database (``CREATE DATABASE <prefix>_<random>``) on MariaDB/MySQL, a new schema selected
via ``search_path`` on PostgreSQL, and a new file next to the given one on SQLite. It is dropped
when the block ends.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from galileo.storage._engine import create_engine, storage_errors


def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with storage_errors(url), engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text(statement))
    finally:
        engine.dispose()


@contextlib.contextmanager
def scratch_database(url: str, prefix: str = "gscratch") -> Iterator[str]:
    """A URL to a new empty database/schema next to ``url``; dropped afterwards."""
    parsed = make_url(url)
    name = f"{prefix}_{secrets.token_hex(5)}"
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        base = Path(parsed.database or "scratch.sqlite").resolve()
        path = base.with_name(f"{name}.sqlite")
        try:
            yield parsed.set(database=str(path)).render_as_string(hide_password=False)
        finally:
            for suffix in ("", "-wal", "-shm", "-migrate-lock"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(path) + suffix).unlink()
        return
    if backend == "mysql":
        _admin(url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            _admin(url, f"DROP DATABASE IF EXISTS `{name}`")
        return
    if backend == "postgresql":
        _admin(url, f'CREATE SCHEMA "{name}"')
        try:
            query = dict(parsed.query)
            query["options"] = f"-csearch_path={name}"
            yield parsed.set(query=query).render_as_string(hide_password=False)
        finally:
            _admin(url, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        return
    raise NotImplementedError(f"no scratch databases for {backend!r}")
