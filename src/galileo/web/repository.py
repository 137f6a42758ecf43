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

from galileo.storage import ExpDB

CSV_PAGE_ROWS = 5000

Reader = Callable[[int, int], Sequence[dict[str, Any]]]  # (limit, offset) -> rows


def traces(db: ExpDB, exp_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    return db.traces(exp_id, limit=limit, offset=offset)


def count_traces(db: ExpDB, exp_id: str) -> int:
    return db.count_traces(exp_id)


def telemetry(db: ExpDB, exp_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Telemetry rows of ``exp_id`` ordered by time, node, metric."""
    return db.telemetry(exp_id, limit=limit, offset=offset)


def count_telemetry(db: ExpDB, exp_id: str) -> int:
    return db.count_telemetry(exp_id)


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
