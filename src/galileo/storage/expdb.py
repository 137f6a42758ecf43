"""``ExpDB``: the experiment database facade (SQLite, MariaDB/MySQL, PostgreSQL).

Every method runs in its own transaction; ``with db.transaction() as tx:`` groups several writes
into one (the recorder inserts a whole read batch, then commits, then acks). Foreign errors become
``StorageError`` here; ``NotFoundError``/``ValidationError`` pass through unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from galileo.protocol import Event, TelemetrySample, Trace
from galileo.storage import events as _events
from galileo.storage import experiments as _exps
from galileo.storage import telemetry as _telemetry
from galileo.storage import traces as _traces
from galileo.storage._engine import create_engine, redact, storage_errors
from galileo.storage.experiments import Experiment
from galileo.storage.schema import ExperimentStatus

if TYPE_CHECKING:
    from galileo.settings import Settings


class Transaction:
    """Writes sharing one database transaction (committed when the ``with`` block ends)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_traces(self, traces: Sequence[Trace]) -> int:
        return _traces.insert_traces(self.conn, traces)

    def insert_events(self, events: Sequence[Event],
                      source_ids: Sequence[str | None] | None = None) -> int:
        return _events.insert_events(self.conn, events, source_ids)

    def get_experiment(self, exp_id: str) -> Experiment | None:
        return _exps.get_experiment(self.conn, exp_id)

    def start(self, exp_id: str, *, at: float | None = None, name: str = "", creator: str = "",
              create: bool = False) -> Experiment:
        return _exps.start_experiment(self.conn, exp_id, at=at, name=name, creator=creator,
                                      create=create)

    def finish(self, exp_id: str, status: ExperimentStatus = ExperimentStatus.FINISHED,
               message: str | None = None, *, at: float | None = None,
               create: bool = False) -> Experiment:
        return _exps.finish_experiment(self.conn, exp_id, status, message, at=at, create=create)


class ExpDB:
    """The experiment database at ``url``; tables are created when missing."""

    def __init__(self, url: str, *, create_tables: bool = True) -> None:
        self.url = url
        self.engine = create_engine(url)
        if create_tables:
            with storage_errors(url):
                from galileo.storage.migrations import upgrade

                upgrade(self.engine)  # schema.py for a new database; Alembic to head else

    @classmethod
    def from_settings(cls, settings: Settings) -> ExpDB:
        return cls(settings.expdb_connection_url())

    @property
    def redacted_url(self) -> str:
        return redact(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"ExpDB({self.redacted_url!r})"

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction for several writes; rolled back if the block raises."""
        with storage_errors(self.url), self.engine.begin() as conn:
            yield Transaction(conn)

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with storage_errors(self.url), self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ExpDB:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ traces and events
    def insert_traces(self, traces: Sequence[Trace]) -> int:
        """Insert a batch in one transaction; returns rows newly inserted (duplicates ignored)."""
        with self.transaction() as tx:
            return tx.insert_traces(traces)

    def insert_events(self, events: Sequence[Event],
                      source_ids: Sequence[str | None] | None = None) -> int:
        with self.transaction() as tx:
            return tx.insert_events(events, source_ids)

    def traces(self, exp_id: str | None = None, *, limit: int | None = None,
               offset: int = 0) -> list[dict[str, Any]]:
        """Trace rows as dicts ordered by ``sent_ns``."""
        with self._read() as conn:
            return _traces.select_traces(conn, exp_id, limit=limit, offset=offset)

    def count_traces(self, exp_id: str | None = None) -> int:
        with self._read() as conn:
            return _traces.count_traces(conn, exp_id)

    def telemetry(self, exp_id: str | None = None, *, node: str | None = None,
                  metric: str | None = None, limit: int | None = None,
                  offset: int = 0) -> list[dict[str, Any]]:
        """Telemetry rows as dicts ordered by time (then node, metric, subsystem)."""
        with self._read() as conn:
            return _telemetry.select_telemetry(conn, exp_id, node=node, metric=metric,
                                               limit=limit, offset=offset)

    def insert_telemetry(self, exp_id: str | None, samples: Iterable[TelemetrySample]) -> int:
        """Store samples under ``exp_id`` (a replayed sample is stored once)."""
        with self.transaction() as tx:
            return _telemetry.insert_telemetry(tx.conn, [(exp_id, s) for s in samples])

    def nodeinfo(self, exp_id: str | None = None) -> dict[str, dict[str, str]]:
        """Node info recorded for ``exp_id``: ``{node: {key: value}}``."""
        with self._read() as conn:
            return _telemetry.select_nodeinfo(conn, exp_id)

    def count_telemetry(self, exp_id: str | None = None) -> int:
        with self._read() as conn:
            return _telemetry.count_telemetry(conn, exp_id)

    def events(self, exp_id: str | None = None) -> list[dict[str, Any]]:
        """Event rows as dicts ordered by ``ts_ns``."""
        with self._read() as conn:
            return _events.select_events(conn, exp_id)

    # ------------------------------------------------------------------ experiments
    def create_experiment(self, name: str = "", creator: str = "", *,
                          exp_id: str | None = None,
                          status: ExperimentStatus = ExperimentStatus.QUEUED) -> Experiment:
        with self.transaction() as tx:
            return _exps.create_experiment(tx.conn, exp_id=exp_id, name=name, creator=creator,
                                           status=status)

    def start(self, exp_id: str, *, at: float | None = None) -> Experiment:
        """Mark ``exp_id`` RUNNING (``NotFoundError`` when unknown)."""
        with self.transaction() as tx:
            return tx.start(exp_id, at=at)

    def finish(self, exp_id: str, status: ExperimentStatus = ExperimentStatus.FINISHED,
               message: str | None = None, *, at: float | None = None) -> Experiment:
        """Mark ``exp_id`` ended with a terminal status and an optional message."""
        with self.transaction() as tx:
            return tx.finish(exp_id, status, message, at=at)

    def get_experiment(self, exp_id: str) -> Experiment | None:
        with self._read() as conn:
            return _exps.get_experiment(conn, exp_id)

    def list_experiments(self, *, status: ExperimentStatus | None = None,
                         limit: int | None = None, offset: int = 0) -> list[Experiment]:
        with self._read() as conn:
            return _exps.list_experiments(conn, status=status, limit=limit, offset=offset)

    def delete_experiment(self, exp_id: str) -> bool:
        """Delete the experiment and all its rows; False when nothing matched."""
        with self.transaction() as tx:
            return _exps.delete_experiment(tx.conn, exp_id)
