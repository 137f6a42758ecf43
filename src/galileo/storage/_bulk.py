"""Fast bulk insert of traces, one strategy per backend, skipping known request ids.

Core's per-row parameter processing costs more than the database itself at these rates, so the
hot path talks to the driver on the SQLAlchemy connection (same transaction):

* SQLite: ``executemany`` of positional rows, ``ON CONFLICT DO NOTHING``.
* PostgreSQL (psycopg 3): ``COPY`` into a per-connection temporary table, then
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (two round trips, C-speed dumping).
* MariaDB/MySQL (PyMySQL): multi-row ``INSERT IGNORE`` whose literals are built here with
  PyMySQL's own escape table (its per-value ``escape`` dominates otherwise); statements are
  chunked to stay far below ``max_allowed_packet``. Other drivers fall back to ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
import sqlalchemy as sa

from galileo.protocol import Trace
from galileo.storage.schema import TRACE_COLUMNS
from galileo.storage.schema import traces as traces_table

MYSQL_ROWS_PER_STATEMENT: Final = 2000
_COLS: Final = ", ".join(TRACE_COLUMNS)
_PG_STAGING: Final = "galileo_traces_in"
_MYSQL_NO_BACKSLASH_ESCAPES: Final = 512  # SERVER_STATUS_NO_BACKSLASH_ESCAPES


def _rowcount(count: Any, attempted: int) -> int:
    return count if isinstance(count, int) and count >= 0 else attempted


def _rows(traces: Sequence[Trace]) -> list[tuple[Any, ...]]:
    return [msgspec.structs.astuple(t) for t in traces]


def _sqlite(conn: sa.Connection, traces: Sequence[Trace]) -> int:
    marks = ", ".join("?" for _ in TRACE_COLUMNS)
    sql = f"INSERT INTO traces ({_COLS}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    return _rowcount(conn.exec_driver_sql(sql, _rows(traces)).rowcount, len(traces))


def _postgresql(conn: sa.Connection, traces: Sequence[Trace]) -> int:
    dbapi: Any = conn.connection.driver_connection
    with dbapi.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_PG_STAGING} "
                    "(LIKE traces INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        cur.execute(f"TRUNCATE {_PG_STAGING}")  # several batches may share one transaction
        with cur.copy(f"COPY {_PG_STAGING} ({_COLS}) FROM STDIN") as copy:
            for row in _rows(traces):
                copy.write_row(row)
        cur.execute(f"INSERT INTO traces ({_COLS}) SELECT {_COLS} FROM {_PG_STAGING} "
                    "ON CONFLICT DO NOTHING")
        return _rowcount(cur.rowcount, len(traces))


def _mysql_escape_table() -> list[str] | None:
    try:
        from pymysql.converters import _escape_table  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - other driver
        return None
    return list(_escape_table)


_ESCAPE: Final = _mysql_escape_table()


def _mysql_row_literal() -> Callable[[Trace, list[str]], str]:
    """``row(t, e)`` → one ``(...)`` row literal: strings escaped exactly as PyMySQL does (``e``
    is its escape table), integers via ``int``, ``None`` as ``NULL``. Generated from the traces
    table once, so the hot path is one f-string with no per-column dispatch."""
    parts = []
    for c in traces_table.columns:
        if isinstance(c.type, sa.Integer):
            parts.append(f"{{int(t.{c.name})}}")
        elif not isinstance(c.type, sa.String):
            raise TypeError(f"no MariaDB literal for traces.{c.name} ({c.type})")
        elif c.nullable:
            parts.append(f"{{'NULL' if t.{c.name} is None else _q(t.{c.name}.translate(e))}}")
        else:
            parts.append(f"'{{t.{c.name}.translate(e)}}'")
    namespace: dict[str, Any] = {"_q": "'{}'".format}
    exec(f'def row(t, e):\n    return f"({",".join(parts)})"\n', namespace)
    row: Callable[[Trace, list[str]], str] = namespace["row"]
    return row


_mysql_values: Final = _mysql_row_literal()


def _mysql(conn: sa.Connection, traces: Sequence[Trace]) -> int:
    dbapi: Any = conn.connection.driver_connection
    table = _ESCAPE
    if (table is None or conn.dialect.driver != "pymysql"
            or getattr(dbapi, "server_status", 0) & _MYSQL_NO_BACKSLASH_ESCAPES):
        marks = ", ".join("%s" for _ in TRACE_COLUMNS)
        sql = f"INSERT IGNORE INTO traces ({_COLS}) VALUES ({marks})"
        return _rowcount(conn.exec_driver_sql(sql, _rows(traces)).rowcount, len(traces))
    inserted = 0
    with dbapi.cursor() as cur:
        for i in range(0, len(traces), MYSQL_ROWS_PER_STATEMENT):
            chunk = traces[i:i + MYSQL_ROWS_PER_STATEMENT]
            values = ",".join([_mysql_values(t, table) for t in chunk])
            cur.execute(f"INSERT IGNORE INTO traces ({_COLS}) VALUES {values}")
            inserted += _rowcount(cur.rowcount, len(chunk))
    return inserted


def bulk_insert_traces(conn: sa.Connection, traces: Sequence[Trace]) -> int:
    """Insert ``traces`` skipping duplicates; rows newly inserted (or attempted if unknown)."""
    if not traces:
        return 0
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return _sqlite(conn, traces)
    if dialect == "postgresql" and conn.dialect.driver == "psycopg":
        return _postgresql(conn, traces)
    if dialect in ("mysql", "mariadb"):
        return _mysql(conn, traces)
    raise NotImplementedError(f"unsupported database driver {dialect}+{conn.dialect.driver}")
