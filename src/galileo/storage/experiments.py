"""Experiment rows: create, start, finish, look up, list, delete (with every row they own)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from galileo.errors import NotFoundError, ValidationError
from galileo.protocol import new_experiment_id
from galileo.storage.schema import EXPERIMENT_TABLES, ExperimentStatus
from galileo.storage.schema import experiments as experiments_table

TERMINAL_STATUSES = frozenset(
    {ExperimentStatus.FINISHED, ExperimentStatus.FAILED, ExperimentStatus.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class Experiment:
    """One experiment row. Times are unix seconds (``None`` until it happens)."""

    id: str
    name: str
    creator: str
    created: float
    start: float | None
    end: float | None
    status: ExperimentStatus
    status_message: str | None
    progress: float
    stage: str | None = None

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Experiment:
        values: dict[str, Any] = dict(row)
        values["status"] = ExperimentStatus(values["status"])
        return cls(**values)


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
    if get_experiment(conn, exp_id) is not None:
        raise ValidationError(f"experiment {exp_id!r} already exists")
    created = _now(created)
    start = created if status == ExperimentStatus.RUNNING else None
    conn.execute(experiments_table.insert().values(
        id=exp_id, name=name, creator=creator, created=created, start=start, end=None,
        status=status.value, status_message=None, progress=0.0))
    return _require(conn, exp_id)


def start_experiment(conn: sa.Connection, exp_id: str, *, at: float | None = None,
                     name: str = "", creator: str = "", create: bool = False) -> Experiment:
    """Mark an experiment RUNNING since ``at`` (default now). With ``create``, a missing row is
    created (the recorder meeting a start event); else a missing row is ``NotFoundError``."""
    at = _now(at)
    exp = get_experiment(conn, exp_id)
    if exp is None:
        if not create:
            raise NotFoundError(f"unknown experiment {exp_id!r}")
        return create_experiment(conn, exp_id=exp_id, name=name, creator=creator,
                                 status=ExperimentStatus.RUNNING, created=at)
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
                      message: str | None = None, *, at: float | None = None,
                      create: bool = False) -> Experiment:
    """Mark an experiment ended at ``at`` (default now) with a terminal ``status``."""
    status = ExperimentStatus(status)
    if status not in TERMINAL_STATUSES:
        raise ValidationError(
            f"cannot finish experiment {exp_id!r} with status {status.value}: use one of "
            + ", ".join(sorted(s.value for s in TERMINAL_STATUSES))
        )
    at = _now(at)
    if get_experiment(conn, exp_id) is None:
        if not create:
            raise NotFoundError(f"unknown experiment {exp_id!r}")
        create_experiment(conn, exp_id=exp_id, created=at)
    values: dict[str, Any] = {"status": status.value, "end": at, "status_message": message}
    if status == ExperimentStatus.FINISHED:
        values["progress"] = 1.0
    conn.execute(experiments_table.update()
                 .where(experiments_table.c.id == exp_id).values(**values))
    return _require(conn, exp_id)


def list_experiments(conn: sa.Connection, *, status: ExperimentStatus | None = None,
                     limit: int | None = None, offset: int = 0) -> list[Experiment]:
    """Experiments, newest first."""
    stmt = sa.select(experiments_table).order_by(experiments_table.c.created.desc(),
                                                 experiments_table.c.id.desc())
    if status is not None:
        stmt = stmt.where(experiments_table.c.status == ExperimentStatus(status).value)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [Experiment.from_row(row) for row in conn.execute(stmt).mappings()]


def delete_experiment(conn: sa.Connection, exp_id: str) -> bool:
    """Delete an experiment and every trace, event, telemetry and nodeinfo row of it.

    Returns False when there was nothing to delete."""
    deleted = 0
    for table in EXPERIMENT_TABLES:
        deleted += conn.execute(table.delete().where(table.c.exp_id == exp_id)).rowcount
    deleted += conn.execute(
        experiments_table.delete().where(experiments_table.c.id == exp_id)).rowcount
    return deleted > 0
