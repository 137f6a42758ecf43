"""Telemetry and node-info rows (tables ``telemetry`` and ``nodeinfo``).

Functions take a connection (the recorder writes inside its batch transaction);
:class:`~galileo.storage.ExpDB` exposes them (``telemetry``, ``nodeinfo``,
``insert_telemetry``). A replayed sample (same node, metric, subsystem and timestamp) is
ignored, and a node's info is stored once per experiment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa

from galileo.protocol import TelemetrySample
from galileo.storage.schema import EXP_ID_LEN, NAME_LEN, TELEMETRY_COLUMNS
from galileo.storage.schema import nodeinfo as nodeinfo_table
from galileo.storage.schema import telemetry as telemetry_table
from galileo.storage.traces import insert_ignore

__all__ = ["count_telemetry", "insert_nodeinfo", "insert_telemetry", "sample_problem",
           "select_nodeinfo", "select_telemetry"]

_INT64: Final = 2**63


def sample_problem(exp_id: str | None, s: TelemetrySample) -> str | None:
    """Why a sample cannot be stored (too long, not finite, out of range), or None."""
    if exp_id is not None and len(exp_id) > EXP_ID_LEN:
        return "exp_id too long"
    for name in ("node", "metric", "subsystem"):
        if len(getattr(s, name)) > NAME_LEN:
            return f"{name} longer than {NAME_LEN} characters"
    if not s.node or not s.metric:
        return "empty node or metric"
    if not math.isfinite(s.value):
        return "value is not finite"
    if not 0 <= s.ts_ns < _INT64 or not 0 <= s.window_ns < _INT64:
        return "timestamp or window out of range"
    return None


def insert_telemetry(conn: sa.Connection,
                     samples: Sequence[tuple[str | None, TelemetrySample]]) -> int:
    """Insert ``(exp_id, sample)`` pairs, skipping samples already stored; rows attempted."""
    if not samples:
        return 0
    rows = [{"exp_id": exp_id, "node": s.node, "metric": s.metric, "subsystem": s.subsystem,
             "ts_ns": s.ts_ns, "value": float(s.value), "window_ns": s.window_ns}
            for exp_id, s in samples]
    conn.execute(insert_ignore(conn, telemetry_table), rows)
    return len(rows)


def select_telemetry(conn: sa.Connection, exp_id: str | None = None, *,
                     node: str | None = None, metric: str | None = None,
                     limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Telemetry rows as dicts ordered by time (then node, metric, subsystem)."""
    t = telemetry_table.c
    stmt = sa.select(*(t[name] for name in TELEMETRY_COLUMNS))
    for column, value in ((t.exp_id, exp_id), (t.node, node), (t.metric, metric)):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(t.ts_ns, t.node, t.metric, t.subsystem, t.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def count_telemetry(conn: sa.Connection, exp_id: str | None = None) -> int:
    t = telemetry_table
    stmt = sa.select(sa.func.count()).select_from(t)
    if exp_id is not None:
        stmt = stmt.where(t.c.exp_id == exp_id)
    return int(conn.execute(stmt).scalar_one())


def insert_nodeinfo(conn: sa.Connection, exp_id: str | None, node: str,
                    info: Mapping[str, str]) -> bool:
    """Store ``info`` for ``node`` under ``exp_id`` unless already stored; True if written."""
    n = nodeinfo_table.c
    exists = conn.execute(sa.select(n.id).where(n.exp_id == exp_id, n.node == node)
                          .limit(1)).first()
    if exists is not None or not info:
        return False
    conn.execute(nodeinfo_table.insert(), [
        {"exp_id": exp_id, "node": node, "key": str(k)[:NAME_LEN], "value": str(v)}
        for k, v in sorted(info.items())])
    return True


def select_nodeinfo(conn: sa.Connection, exp_id: str | None = None) -> dict[str, dict[str, str]]:
    """``{node: {key: value}}`` of one experiment (or all rows)."""
    n = nodeinfo_table.c
    stmt = sa.select(n.node, n.key, n.value).order_by(n.node, n.key)
    if exp_id is not None:
        stmt = stmt.where(n.exp_id == exp_id)
    out: dict[str, dict[str, str]] = {}
    for node, key, value in conn.execute(stmt):
        out.setdefault(node, {})[key] = value
    return out
