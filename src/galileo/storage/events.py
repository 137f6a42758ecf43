"""Event rows: experiment start/stop, routing changes, group changes, … (``protocol.Event``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from galileo.protocol import Event
from galileo.storage.schema import EVENT_COLUMNS
from galileo.storage.schema import events as events_table
from galileo.storage.traces import insert_ignore


def event_row(e: Event, source_id: str | None = None) -> dict[str, Any]:
    """The column values of one event (``schema.EVENT_COLUMNS``); ``source_id`` (e.g.
    ``event/<id>`` or ``<stream>/<entry id>``) is stored for ``Event.id`` and makes a replayed
    event a no-op."""
    row = {column: getattr(e, name) for name, column in EVENT_COLUMNS.items()}
    row.update(kind=str(e.kind), data=dict(e.data), source_id=source_id)
    return row


def insert_events(conn: sa.Connection, events: Sequence[Event],
                  source_ids: Sequence[str | None] | None = None) -> int:
    """Insert ``events``; an event whose ``source_id`` is already stored is ignored.

    Returns the rows newly inserted when the driver reports it, else the rows attempted."""
    if not events:
        return 0
    ids = list(source_ids) if source_ids is not None else [None] * len(events)
    if len(ids) != len(events):
        raise ValueError("source_ids must have one entry per event")
    rows = [event_row(e, s) for e, s in zip(events, ids, strict=True)]
    stmt = insert_ignore(conn, events_table)
    if conn.dialect.name in ("sqlite", "postgresql"):  # executemany rowcount is unreliable there
        return len(conn.execute(stmt.returning(events_table.c.id), rows).all())
    count = conn.execute(stmt, rows).rowcount
    return count if isinstance(count, int) and count >= 0 else len(rows)


def select_events(conn: sa.Connection, exp_id: str | None = None) -> list[dict[str, Any]]:
    """Events as dicts in time order, optionally of one experiment."""
    stmt = sa.select(events_table).order_by(events_table.c.ts_ns, events_table.c.id)
    if exp_id is not None:
        stmt = stmt.where(events_table.c.exp_id == exp_id)
    return [dict(row) for row in conn.execute(stmt).mappings()]
