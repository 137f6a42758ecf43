"""Engine creation per backend and the mapping of SQLAlchemy/driver errors to ``StorageError``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from galileo.errors import StorageError

CONNECT_TIMEOUT_S: Final = 5
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
SQLITE_CACHE_KIB: Final = 65_536  # page cache per connection; fewer checkpoint stalls
SQLITE_WAL_CHECKPOINT_PAGES: Final = 16_384  # checkpoint every 64 MB of WAL, not every 4 MB


def redact(url: str | URL) -> str:
    """``url`` with its password replaced by ``***`` (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable url>"


def first_line(e: BaseException) -> str:
    """The driver's own message (SQLAlchemy wraps it), first line only."""
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip()
    return (text.splitlines() or [type(e).__name__])[0][:300]


@contextlib.contextmanager
def storage_errors(url: str | URL) -> Iterator[None]:
    """Turn SQLAlchemy/driver errors raised inside into one-sentence ``StorageError``s."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.ArgumentError,
            sa.exc.NoSuchModuleError, ModuleNotFoundError) as e:
        raise StorageError(
            f"cannot reach the experiment database at {redact(url)}: {first_line(e)}"
        ) from e
    except sa.exc.SQLAlchemyError as e:
        raise StorageError(
            f"the experiment database at {redact(url)} refused an operation: {first_line(e)}"
        ) from e


@contextlib.contextmanager
def driver_errors(conn: sa.Connection, where: str) -> Iterator[None]:
    """Around direct use of the driver's cursor on ``conn`` (no SQLAlchemy wrapping): its
    DBAPI errors become ``StorageError`` as well."""
    dbapi: Any = conn.dialect.loaded_dbapi
    try:
        yield
    except (dbapi.OperationalError, dbapi.InterfaceError) as e:
        raise StorageError(
            f"cannot reach the experiment database at {where}: {first_line(e)}") from e
    except dbapi.Error as e:
        raise StorageError(
            f"the experiment database at {where} refused an operation: {first_line(e)}") from e


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def create_engine(url: str | URL) -> sa.Engine:
    """An engine for SQLite (WAL, parent dir created), MariaDB/MySQL or PostgreSQL."""
    with storage_errors(url):
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:"):
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(parsed)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
        if backend == "mysql":
            args["charset"] = "utf8mb4"
        return sa.create_engine(parsed, connect_args=args, pool_pre_ping=True)
