"""Experiment rows: create, start, finish, look up, list; the trash (move, restore, purge with
every row they own); and the order-independent merge of start/stop events (the recorder may
apply a reclaimed start after its stop)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from galileo.errors import NotFoundError, ValidationError
from galileo.protocol import new_experiment_id
from galileo.storage.records import TERMINAL_STATUSES as TERMINAL_STATUSES  # its old home
from galileo.storage.records import Experiment as Experiment
from galileo.storage.records import ExperimentStatus
from galileo.storage.schema import EXPERIMENT_TABLES
from galileo.storage.schema import experiments as experiments_table


def _now(at: float | None) -> float:
    return time.time() if at is None else at


def get_experiment(conn: sa.Connection, exp_id: str) -> Experiment | None:
    row = conn.execute(
        sa.select(experiments_table).where(experiments_table.c.id == exp_id)
    ).mappings().first()
    return None if row is None else Experiment.from_row(row)


def _require(conn: sa.Connection, exp_id: str) -> Experiment:
    exp = get_experiment(conn, exp_id)
    if exp is None:
        raise NotFoundError(f"unknown experiment {exp_id!r}")
    return exp


def create_experiment(conn: sa.Connection, *, exp_id: str | None = None, name: str = "",
                      creator: str = "", status: ExperimentStatus = ExperimentStatus.QUEUED,
                      created: float | None = None) -> Experiment:
    """Insert a new experiment row; ``ValidationError`` when the id is taken."""
    exp_id = exp_id or new_experiment_id()
    existing = get_experiment(conn, exp_id)
    if existing is not None:
        where = " (in the trash: restore or purge it)" if existing.deleted_at is not None else ""
        raise ValidationError(f"experiment {exp_id!r} already exists{where}")
    created = _now(created)
    start = created if status == ExperimentStatus.RUNNING else None
    conn.execute(experiments_table.insert().values(
        id=exp_id, name=name, creator=creator, created=created, start=start, end=None,
        status=status.value, status_message=None, progress=0.0))
    return _require(conn, exp_id)


def start_experiment(conn: sa.Connection, exp_id: str, *, at: float | None = None,
                     name: str = "", creator: str = "") -> Experiment:
    """Mark an experiment RUNNING since ``at`` (default now); ``NotFoundError`` when unknown.
    (Events from the bus are merged with :func:`record_start` instead.)"""
    at = _now(at)
    _require(conn, exp_id)
    values: dict[str, Any] = {"status": ExperimentStatus.RUNNING.value, "start": at, "end": None}
    if name:
        values["name"] = name
    if creator:
        values["creator"] = creator
    conn.execute(experiments_table.update()
                 .where(experiments_table.c.id == exp_id).values(**values))
    return _require(conn, exp_id)


def finish_experiment(conn: sa.Connection, exp_id: str,
                      status: ExperimentStatus = ExperimentStatus.FINISHED,
                      message: str | None = None, *, at: float | None = None) -> Experiment:
    """Mark an experiment ended at ``at`` (default now) with a terminal ``status``;
    ``NotFoundError`` when unknown (events are merged with :func:`record_stop`)."""
    status = ExperimentStatus(status)
    if status not in TERMINAL_STATUSES:
        raise ValidationError(
            f"cannot finish experiment {exp_id!r} with status {status.value}: use one of "
            + ", ".join(sorted(s.value for s in TERMINAL_STATUSES))
        )
    at = _now(at)
    _require(conn, exp_id)
    values: dict[str, Any] = {"status": status.value, "end": at, "status_message": message}
    if status == ExperimentStatus.FINISHED:
        values["progress"] = 1.0
    conn.execute(experiments_table.update()
                 .where(experiments_table.c.id == exp_id).values(**values))
    return _require(conn, exp_id)


def record_start(conn: sa.Connection, exp_id: str, *, at: float, name: str = "",
                 creator: str = "") -> Experiment:
    """Apply an ``experiment_start`` event at ``at``: order-independent with its stop and
    idempotent on replay. Times merge (``created``/``start`` take the minimum), a set name or
    creator is never replaced by an empty one, and a start older than an applied stop leaves
    the terminal status alone; a start after the end of a finished run begins a new run."""
    exp = get_experiment(conn, exp_id)
    if exp is None:
        return create_experiment(conn, exp_id=exp_id, name=name, creator=creator,
                                 status=ExperimentStatus.RUNNING, created=at)
    values: dict[str, Any] = {"created": min(exp.created, at),
                              "start": at if exp.start is None else min(exp.start, at)}
    if exp.status in TERMINAL_STATUSES and exp.end is not None and at > exp.end:
        values.update(status=ExperimentStatus.RUNNING.value, start=at, end=None,
                      status_message=None)
    elif exp.status not in TERMINAL_STATUSES:
        values["status"] = ExperimentStatus.RUNNING.value
    if name:
        values["name"] = name
    if creator:
        values["creator"] = creator
    return _update(conn, exp_id, values)


def record_stop(conn: sa.Connection, exp_id: str, status: ExperimentStatus, *, at: float,
                message: str | None = None) -> Experiment:
    """Apply an ``experiment_stop`` event at ``at`` (see :func:`record_start`): the latest stop
    decides the end, status and message; ``created`` never moves later than a known start."""
    status = ExperimentStatus(status)
    exp = get_experiment(conn, exp_id) or create_experiment(conn, exp_id=exp_id, created=at)
    values: dict[str, Any] = {"created": min(exp.created, at)}
    if exp.end is None or at >= exp.end:
        values.update(status=status.value, end=at)
        if message is not None:
            values["status_message"] = message
        if status == ExperimentStatus.FINISHED:
            values["progress"] = 1.0
    return _update(conn, exp_id, values)


def _update(conn: sa.Connection, exp_id: str, values: dict[str, Any]) -> Experiment:
    conn.execute(experiments_table.update()
                 .where(experiments_table.c.id == exp_id).values(**values))
    return _require(conn, exp_id)


def list_experiments(conn: sa.Connection, *, status: ExperimentStatus | None = None,
                     creator: str | None = None, trash: bool = False,
                     limit: int | None = None, offset: int = 0) -> list[Experiment]:
    """Experiments, newest first: those not deleted, or with ``trash`` those in the trash."""
    t = experiments_table.c
    stmt = sa.select(experiments_table).order_by(t.created.desc(), t.id.desc())
    stmt = stmt.where(t.deleted_at.is_not(None) if trash else t.deleted_at.is_(None))
    if status is not None:
        stmt = stmt.where(t.status == ExperimentStatus(status).value)
    if creator is not None:
        stmt = stmt.where(t.creator == creator)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [Experiment.from_row(row) for row in conn.execute(stmt).mappings()]


def trash_experiment(conn: sa.Connection, exp_id: str, *, at: float | None = None) -> Experiment:
    """Move an experiment to the trash (its rows stay); ``NotFoundError`` when unknown or
    already there."""
    exp = _require(conn, exp_id)
    if exp.deleted_at is not None:
        raise NotFoundError(f"experiment {exp_id!r} is already in the trash")
    return _update(conn, exp_id, {"deleted_at": _now(at)})


def restore_experiment(conn: sa.Connection, exp_id: str) -> Experiment:
    """Take an experiment out of the trash, with everything it had."""
    exp = get_experiment(conn, exp_id)
    if exp is None or exp.deleted_at is None:
        raise NotFoundError(f"experiment {exp_id!r} is not in the trash")
    return _update(conn, exp_id, {"deleted_at": None})


def purge_experiment(conn: sa.Connection, exp_id: str) -> bool:
    """Delete an experiment for good with every trace, event, telemetry, nodeinfo and metadata
    row of it. Returns False when there was nothing to delete."""
    deleted = 0
    for table in EXPERIMENT_TABLES:
        deleted += conn.execute(table.delete().where(table.c.exp_id == exp_id)).rowcount
    deleted += conn.execute(
        experiments_table.delete().where(experiments_table.c.id == exp_id)).rowcount
    return deleted > 0


def expired_trash(conn: sa.Connection, before: float) -> list[str]:
    """Ids of experiments moved to the trash before ``before`` (unix s)."""
    t = experiments_table.c
    return list(conn.execute(sa.select(t.id).where(t.deleted_at < before)).scalars())
