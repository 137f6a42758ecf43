"""Paged reads of an experiment's rows for the API (traces, telemetry), and CSV rendering.

Traces come from :class:`~galileo.storage.ExpDB`; ``ExpDB`` has no telemetry reader yet, so the
two small telemetry queries live here (SQLAlchemy Core on the storage schema, no raw SQL) until
the storage layer grows one -- route handlers never touch SQL either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from galileo.errors import StorageError
from galileo.storage import ExpDB
from galileo.storage.schema import telemetry as telemetry_table

TRACE_COLUMNS = ("request_id", "exp_id", "group_id", "client_id", "worker", "service", "host",
                 "method", "path", "intended_ns", "sent_ns", "done_ns", "status", "error",
                 "bytes_received")
TELEMETRY_COLUMNS = ("exp_id", "node", "metric", "subsystem", "ts_ns", "value")
CSV_PAGE_ROWS = 5000

Reader = Callable[[int, int], Sequence[dict[str, Any]]]  # (limit, offset) -> rows


def traces(db: ExpDB, exp_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    return db.traces(exp_id, limit=limit, offset=offset)


def count_traces(db: ExpDB, exp_id: str) -> int:
    return db.count_traces(exp_id)


def telemetry(db: ExpDB, exp_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Telemetry rows of ``exp_id`` ordered by time, node, metric."""
    t = telemetry_table
    stmt = (sa.select(*(t.c[name] for name in TELEMETRY_COLUMNS))
            .where(t.c.exp_id == exp_id)
            .order_by(t.c.ts_ns, t.c.node, t.c.metric, t.c.subsystem, t.c.id)
            .limit(limit).offset(offset))
    try:
        with db.engine.connect() as conn:
            return [dict(row) for row in conn.execute(stmt).mappings()]
    except sa.exc.SQLAlchemyError as e:
        raise StorageError(f"cannot read telemetry from {db.redacted_url}: {e}") from None


def count_telemetry(db: ExpDB, exp_id: str) -> int:
    t = telemetry_table
    stmt = sa.select(sa.func.count()).select_from(t).where(t.c.exp_id == exp_id)
    try:
        with db.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())
    except sa.exc.SQLAlchemyError as e:
        raise StorageError(f"cannot count telemetry in {db.redacted_url}: {e}") from None


def csv_lines(columns: Sequence[str], read: Reader,
              page_rows: int = CSV_PAGE_ROWS) -> Iterator[str]:
    """A header line, then every row ``read`` returns, page by page (constant memory)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    yield _drain(buf)
    offset = 0
    while True:
        rows = read(page_rows, offset)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        if rows:
            yield _drain(buf)
        if len(rows) < page_rows:
            return
        offset += len(rows)


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _drain(buf: io.StringIO) -> str:
    text = buf.getvalue()
    buf.seek(0)
    buf.truncate()
    return text
