"""SQL the job layer needs beyond :class:`~galileo.storage.ExpDB`: the ``metadata`` table
(scenario/script and settings as JSON), progress/stage/message updates, trace summaries."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from galileo.protocol import request_failed
from galileo.storage import ExpDB, ExperimentStatus
from galileo.storage.schema import experiments as experiments_table
from galileo.storage.schema import metadata_table, traces


def put_metadata(db: ExpDB, exp_id: str, values: dict[str, Any]) -> None:
    """Store (replace) metadata entries of ``exp_id``."""
    if not values:
        return
    t = metadata_table
    with db.transaction() as tx:
        tx.conn.execute(t.delete().where(t.c.exp_id == exp_id, t.c.key.in_(list(values))))
        tx.conn.execute(t.insert(), [{"exp_id": exp_id, "key": k, "value": v}
                                     for k, v in values.items()])


def get_metadata(db: ExpDB, exp_id: str) -> dict[str, Any]:
    t = metadata_table
    with db.transaction() as tx:
        rows = tx.conn.execute(sa.select(t.c.key, t.c.value).where(t.c.exp_id == exp_id))
        return {row.key: row.value for row in rows}


def update_progress(db: ExpDB, exp_id: str, *, progress: float | None = None,
                    stage: str | None = None, message: str | None = None) -> None:
    """Update the live status columns of a running experiment (only those given)."""
    values: dict[str, Any] = {}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if stage is not None:
        values["stage"] = stage[:255]
    if message is not None:
        values["status_message"] = message
    if not values:
        return
    t = experiments_table
    with db.transaction() as tx:
        tx.conn.execute(t.update().where(t.c.id == exp_id).values(**values))


def set_status_if(db: ExpDB, exp_id: str, expected: ExperimentStatus, new: ExperimentStatus,
                  message: str | None = None, *, at: float | None = None) -> bool:
    """Compare-and-set the status (one runner wins a race); True when it changed."""
    t = experiments_table
    values: dict[str, Any] = {"status": new.value}
    if message is not None:
        values["status_message"] = message
    if new == ExperimentStatus.RUNNING:
        values["start"] = at
    elif new != ExperimentStatus.QUEUED:
        values["end"] = at
    with db.transaction() as tx:
        result = tx.conn.execute(t.update().where(t.c.id == exp_id,
                                                  t.c.status == expected.value).values(**values))
        return bool(result.rowcount)


def tag_traces(db: ExpDB, exp_id: str, group_ids: list[str]) -> int:
    """Attach every trace of ``group_ids`` to ``exp_id`` (experiments running in parallel)."""
    if not group_ids:
        return 0
    with db.transaction() as tx:
        result = tx.conn.execute(traces.update().where(traces.c.group_id.in_(group_ids))
                                 .values(exp_id=exp_id))
        return int(result.rowcount)


def trace_summary(db: ExpDB, exp_id: str, group_ids: list[str] | None = None
                  ) -> tuple[int, int, list[float], int, int]:
    """(requests, errors, latencies_ms from intended send, first sent_ns, last sent_ns)."""
    stmt = sa.select(traces.c.intended_ns, traces.c.sent_ns, traces.c.done_ns, traces.c.status,
                     traces.c.error)
    if group_ids is not None:  # the groups are this experiment's, whatever tag a trace got
        stmt = stmt.where(traces.c.group_id.in_(group_ids))
    else:
        stmt = stmt.where(traces.c.exp_id == exp_id)
    n = errors = 0
    lat: list[float] = []
    first = last = 0
    with db.transaction() as tx:
        for intended, sent, done, status, error in tx.conn.execute(stmt):
            n += 1
            if request_failed(int(status), error):
                errors += 1
            else:
                lat.append((int(done) - int(intended)) / 1e6)
            first = int(sent) if not first else min(first, int(sent))
            last = max(last, int(sent))
    return n, errors, lat, first, last


def count_group_traces(db: ExpDB, group_ids: list[str]) -> int:
    if not group_ids:
        return 0
    stmt = sa.select(sa.func.count()).select_from(traces).where(
        traces.c.group_id.in_(group_ids))
    with db.transaction() as tx:
        return int(tx.conn.execute(stmt).scalar_one())

