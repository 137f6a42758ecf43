"""Rows of ``lb_traces`` (one per request ``galileo lb`` proxied): batched insert that ignores
replays (same balancer, request id and receive time), queries, and the fit check run before
inserting so one bad record never blocks a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec
import sqlalchemy as sa

from galileo.protocol import LbTrace
from galileo.storage.schema import LB_TRACE_COLUMNS
from galileo.storage.schema import lb_traces as table
from galileo.storage.traces import FitCheck, insert_ignore

__all__ = ["count_lb_traces", "insert_lb_traces", "lb_trace_misfits", "lb_trace_problem",
           "select_lb_traces"]

_FIT: Final = FitCheck(table)


def insert_lb_traces(conn: sa.Connection, traces: Sequence[LbTrace]) -> int:
    """Insert ``traces``; replays are skipped. Returns the rows attempted."""
    if not traces:
        return 0
    rows = [dict(zip(LB_TRACE_COLUMNS, msgspec.structs.astuple(t), strict=True))
            for t in traces]
    conn.execute(insert_ignore(conn, table), rows)
    return len(rows)


def _where_exp(stmt: Any, exp_id: str | None) -> Any:
    return stmt if exp_id is None else stmt.where(table.c.exp_id == exp_id)


def select_lb_traces(conn: sa.Connection, exp_id: str | None = None, *,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """lb traces as dicts ordered by receive time, optionally of one experiment."""
    stmt = _where_exp(sa.select(*(table.c[n] for n in LB_TRACE_COLUMNS)), exp_id)
    stmt = stmt.order_by(table.c.received_ns, table.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def count_lb_traces(conn: sa.Connection, exp_id: str | None = None) -> int:
    stmt = _where_exp(sa.select(sa.func.count()).select_from(table), exp_id)
    return int(conn.execute(stmt).scalar_one())


def lb_trace_problem(t: LbTrace) -> str | None:
    """Why ``t`` cannot be stored (a value too long or out of range), or None."""
    return _FIT.problem(t)


def lb_trace_misfits(traces: Sequence[LbTrace]) -> list[tuple[int, str]]:
    """``(index, reason)`` of each lb trace in ``traces`` that cannot be stored."""
    return _FIT.misfits(traces)
