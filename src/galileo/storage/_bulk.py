"""Fast bulk insert of trace rows, one strategy per backend, skipping known request ids.

Rows are a trace's values in ``TRACE_COLUMNS`` order (``TraceRow``): what the recorder decodes
a column batch into, and what ``trace_rows`` makes of ``Trace`` objects.

Core's per-row parameter processing costs more than the database itself at these rates, so the
hot path talks to the driver on the SQLAlchemy connection (same transaction):

* SQLite: ``executemany`` of positional rows, ``ON CONFLICT DO NOTHING``.
* PostgreSQL (psycopg 3): ``COPY`` into a per-connection temporary table, then
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (two round trips, C-speed dumping).
* MariaDB/MySQL (PyMySQL): multi-row ``INSERT IGNORE`` whose literals are built here with
  PyMySQL's own escape table (its per-value ``escape`` dominates otherwise); statements are
  sized by the server's ``max_allowed_packet`` (read once per connection; a quarter of it in
  characters, so even 4-byte UTF-8 fits). Other drivers fall back to ``executemany``.

Duplicates (same ``request_id``) are skipped on every path: the recorder delivers at least once.
A batch the database refuses (a value that does not fit, a missing one) raises ``StorageError``
naming the reason, and the caller's transaction rolls back: nothing of the batch is written.
:func:`executemany_insert_rows` is the plain batched path the benchmark compares against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import sqlalchemy as sa

from galileo.errors import StorageError
from galileo.protocol.trace_wire import TraceRow
from galileo.storage._engine import driver_errors, redact
from galileo.storage.schema import TRACE_COLUMNS
from galileo.storage.schema import traces as traces_table

MYSQL_PACKET_SHARE: Final = 4  # statement budget in characters: max_allowed_packet / this
MYSQL_DEFAULT_PACKET: Final = 1 << 20  # if the server does not say (MySQL's old 1 MiB default)
_COLS: Final = ", ".join(TRACE_COLUMNS)
_PG_STAGING: Final = "galileo_traces_in"
_MYSQL_NO_BACKSLASH_ESCAPES: Final = 512  # SERVER_STATUS_NO_BACKSLASH_ESCAPES


def _rowcount(count: Any, attempted: int) -> int:
    return count if isinstance(count, int) and count >= 0 else attempted


def _sqlite(conn: sa.Connection, rows: Sequence[TraceRow]) -> int:
    marks = ", ".join("?" for _ in TRACE_COLUMNS)
    sql = f"INSERT INTO traces ({_COLS}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    return _rowcount(conn.exec_driver_sql(sql, rows).rowcount, len(rows))


def _postgresql(conn: sa.Connection, rows: Sequence[TraceRow]) -> int:
    dbapi: Any = conn.connection.driver_connection
    with dbapi.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_PG_STAGING} "
                    "(LIKE traces INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        cur.execute(f"TRUNCATE {_PG_STAGING}")  # several batches may share one transaction
        with cur.copy(f"COPY {_PG_STAGING} ({_COLS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"INSERT INTO traces ({_COLS}) SELECT {_COLS} FROM {_PG_STAGING} "
                    "ON CONFLICT DO NOTHING")
        return _rowcount(cur.rowcount, len(rows))


def _mysql_escape_table() -> list[str] | None:
    try:
        from pymysql.converters import _escape_table  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - other driver
        return None
    return list(_escape_table)


_ESCAPE: Final = _mysql_escape_table()


def _mysql_row_literal() -> Callable[[TraceRow, list[str]], str]:
    """``row(t, e)`` → one ``(...)`` row literal: strings escaped exactly as PyMySQL does (``e``
    is its escape table), integers via ``int``, ``None`` as ``NULL``. Generated from the traces
    table once, so the hot path is one f-string with no per-column dispatch."""
    parts = []
    for i, name in enumerate(TRACE_COLUMNS):
        c = traces_table.columns[name]
        if isinstance(c.type, sa.Integer):
            parts.append(f"{{int(t[{i}])}}")
        elif not isinstance(c.type, sa.String):
            raise TypeError(f"no MariaDB literal for traces.{c.name} ({c.type})")
        elif c.nullable:
            parts.append(f"{{'NULL' if t[{i}] is None else _q(t[{i}].translate(e))}}")
        else:
            parts.append(f"'{{t[{i}].translate(e)}}'")
    namespace: dict[str, Any] = {"_q": "'{}'".format}
    exec(f'def row(t, e):\n    return f"({",".join(parts)})"\n', namespace)
    row: Callable[[TraceRow, list[str]], str] = namespace["row"]
    return row


_mysql_values: Final = _mysql_row_literal()


def mysql_statement_budget(conn: sa.Connection) -> int:
    """Characters one multi-row statement may have on this connection (cached per connection:
    ``max_allowed_packet`` is read once)."""
    info = conn.connection.info
    if "galileo_packet" not in info:
        packet = conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar()
        info["galileo_packet"] = int(packet or MYSQL_DEFAULT_PACKET)
    return int(info["galileo_packet"]) // MYSQL_PACKET_SHARE


def _mysql(conn: sa.Connection, rows: Sequence[TraceRow]) -> int:
    dbapi: Any = conn.connection.driver_connection
    table = _ESCAPE
    if (table is None or conn.dialect.driver != "pymysql"
            or getattr(dbapi, "server_status", 0) & _MYSQL_NO_BACKSLASH_ESCAPES):
        return executemany_insert_rows(conn, rows)
    head = f"INSERT IGNORE INTO traces ({_COLS}) VALUES "
    budget = mysql_statement_budget(conn) - len(head)
    inserted = 0
    with dbapi.cursor() as cur:
        values: list[str] = []
        size = 0
        for t in rows:
            literal = _mysql_values(t, table)
            if values and size + len(literal) + 1 > budget:
                cur.execute(head + ",".join(values))
                inserted += _rowcount(cur.rowcount, len(values))
                values, size = [], 0
            values.append(literal)
            size += len(literal) + 1
        if values:
            cur.execute(head + ",".join(values))
            inserted += _rowcount(cur.rowcount, len(values))
    return inserted


def executemany_insert_rows(conn: sa.Connection, rows: Sequence[TraceRow]) -> int:
    """The plain path: one parameterised ``INSERT`` that skips duplicates, ``executemany`` of
    positional rows (the driver batches it as it can)."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    marks = ", ".join("?" if dialect == "sqlite" else "%s" for _ in TRACE_COLUMNS)
    if dialect in ("mysql", "mariadb"):
        sql = f"INSERT IGNORE INTO traces ({_COLS}) VALUES ({marks})"
    else:
        sql = f"INSERT INTO traces ({_COLS}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    return _rowcount(conn.exec_driver_sql(sql, list(rows)).rowcount, len(rows))


def bulk_insert_rows(conn: sa.Connection, rows: Sequence[TraceRow]) -> int:
    """Insert ``rows`` skipping duplicates; rows newly inserted (or attempted if unknown).
    ``StorageError`` when the database refuses the batch (the caller rolls back)."""
    if not rows:
        return 0
    rows = rows if isinstance(rows, list) else list(rows)  # a list: the drivers' executemany
    dialect = conn.dialect.name
    if dialect == "sqlite":
        insert = _sqlite
    elif dialect == "postgresql" and conn.dialect.driver == "psycopg":
        insert = _postgresql
    elif dialect in ("mysql", "mariadb"):
        insert = _mysql
    else:
        raise NotImplementedError(f"unsupported database driver {dialect}+{conn.dialect.driver}")
    with driver_errors(conn, redact(conn.engine.url)):
        try:
            return insert(conn, rows)
        except (TypeError, ValueError, AttributeError, IndexError) as e:  # a wrong value
            raise StorageError(f"a trace of the batch cannot be stored ({e}); the batch is "
                               "not written") from e
