"""What the experiment job layer stores beside the experiment row: the ``metadata`` table (the
scenario or script and the settings, as JSON), live progress/stage/message, a compare-and-set of
the status, and the traces of a run's client groups (tagging, counting, summarising).

Each function runs in its own transaction of ``db`` and maps database errors to
``StorageError`` (through :meth:`ExpDB.transaction`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import sqlalchemy as sa

from galileo.protocol import request_failed
from galileo.storage.records import ExperimentStatus
from galileo.storage.schema import experiments as experiments_table
from galileo.storage.schema import metadata_table, traces

if TYPE_CHECKING:
    from galileo.storage.expdb import ExpDB

STAGE_LEN: Final = 255


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
    """Every metadata entry of ``exp_id`` as ``{key: value}``."""
    t = metadata_table
    with db.transaction() as tx:
        rows = tx.conn.execute(sa.select(t.c.key, t.c.value).where(t.c.exp_id == exp_id))
        return {row.key: row.value for row in rows}


def metadata_of(db: ExpDB, exp_ids: Iterable[str], key: str) -> dict[str, Any]:
    """The value of metadata ``key`` of each of ``exp_ids`` that has one."""
    t = metadata_table
    ids = list(exp_ids)
    if not ids:
        return {}
    with db.transaction() as tx:
        rows = tx.conn.execute(sa.select(t.c.exp_id, t.c.value)
                               .where(t.c.exp_id.in_(ids), t.c.key == key))
        return {exp_id: value for exp_id, value in rows}


def update_progress(db: ExpDB, exp_id: str, *, progress: float | None = None,
                    stage: str | None = None, message: str | None = None) -> None:
    """Update the live status columns of a running experiment (only those given)."""
    values: dict[str, Any] = {}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if stage is not None:
        values["stage"] = stage[:STAGE_LEN]
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


class TraceSummary(NamedTuple):
    """Requests, errors, latencies (ms from the intended send, in whole microseconds) of the
    answered ones (a status was received, as the dashboard's exact p99 reads them), and the
    first and last send time (unix ns; 0 when there was none)."""

    requests: int
    errors: int
    latencies_ms: list[float]
    first_sent_ns: int
    last_sent_ns: int


def trace_summary(db: ExpDB, exp_id: str, group_ids: list[str] | None = None) -> TraceSummary:
    """The summary of the traces of ``exp_id``, or of ``group_ids`` whatever tag they got."""
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
            if int(status) > 0:  # answered
                lat.append(((int(done) - int(intended)) // 1000) / 1000)
            first = int(sent) if not first else min(first, int(sent))
            last = max(last, int(sent))
    return TraceSummary(n, errors, lat, first, last)


def count_group_traces(db: ExpDB, group_ids: list[str]) -> int:
    """How many traces the client groups ``group_ids`` stored."""
    if not group_ids:
        return 0
    stmt = sa.select(sa.func.count()).select_from(traces).where(
        traces.c.group_id.in_(group_ids))
    with db.transaction() as tx:
        return int(tx.conn.execute(stmt).scalar_one())
