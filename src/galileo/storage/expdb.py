"""``ExpDB``: the experiment database facade (SQLite, MariaDB/MySQL, PostgreSQL).

Every method runs in its own transaction; ``with db.transaction() as tx:`` groups several writes
into one (the recorder inserts a whole read batch, then commits, then acks). Foreign errors become
``StorageError`` here; ``NotFoundError``/``ValidationError`` pass through unchanged.

Deleting moves an experiment to the trash (:meth:`ExpDB.trash_experiment`); with a
``trash_retention_s`` the database purges what stayed there longer, when it is opened and then at
most every ``TRASH_CHECK_INTERVAL_S`` (one query on the small experiments table when there is
nothing to purge).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from galileo.errors import StorageError
from galileo.protocol import Event, LbTrace, TelemetrySample, Trace, TraceRow, traces_of_rows
from galileo.storage import events as _events
from galileo.storage import experiments as _exps
from galileo.storage import lb_traces as _lb_traces
from galileo.storage import telemetry as _telemetry
from galileo.storage import traces as _traces
from galileo.storage._engine import create_engine, redact, storage_errors
from galileo.storage.records import Experiment, ExperimentStatus

if TYPE_CHECKING:
    from galileo.settings import Settings
    from galileo.storage.influx import InfluxRuntimeStore

log = logging.getLogger(__name__)

TRASH_CHECK_INTERVAL_S: Final = 600.0


def ping(url: str) -> None:
    """Check that the database at ``url`` answers a trivial query (nothing is created or
    migrated); ``StorageError`` saying why when it does not."""
    engine = create_engine(url)
    try:
        with storage_errors(url), engine.connect() as conn:
            conn.execute(sa.select(1))
    finally:
        engine.dispose()


class Transaction:
    """Writes sharing one database transaction (committed when the ``with`` block ends)."""

    def __init__(self, conn: sa.Connection, runtime: InfluxRuntimeStore | None = None) -> None:
        self.conn = conn
        self.runtime = runtime  # the ``mixed`` expdb: traces and telemetry go to InfluxDB

    def insert_traces(self, traces: Sequence[Trace],
                      method: _traces.IngestMethod = "bulk") -> int:
        """Insert ``traces`` (duplicates ignored); ``method`` only for benchmarks."""
        if self.runtime is not None:
            return self.runtime.insert_traces(traces)
        return _traces.insert_traces(self.conn, traces, method)

    def insert_trace_rows(self, rows: Sequence[TraceRow],
                          method: _traces.IngestMethod = "bulk") -> int:
        """:meth:`insert_traces` for rows (a trace's values in ``TRACE_COLUMNS`` order), as
        the recorder decodes them."""
        if self.runtime is not None:
            return self.runtime.insert_traces(traces_of_rows(rows))
        return _traces.insert_trace_rows(self.conn, rows, method)

    def insert_telemetry(self, pairs: Sequence[tuple[str | None, TelemetrySample]]) -> int:
        """Samples with the experiment each belongs to (a replayed sample is stored once)."""
        if self.runtime is not None:
            return self.runtime.insert_telemetry(pairs)
        return _telemetry.insert_telemetry(self.conn, pairs)

    def insert_events(self, events: Sequence[Event],
                      source_ids: Sequence[str | None] | None = None) -> int:
        return _events.insert_events(self.conn, events, source_ids)

    def insert_lb_traces(self, traces: Sequence[LbTrace]) -> int:
        return _lb_traces.insert_lb_traces(self.conn, traces)

    def insert_nodeinfo(self, exp_id: str | None, node: str, info: Mapping[str, str]) -> bool:
        """Store ``info`` of ``node`` under ``exp_id`` unless stored already; True if written."""
        return _telemetry.insert_nodeinfo(self.conn, exp_id, node, info)

    def get_experiment(self, exp_id: str) -> Experiment | None:
        return _exps.get_experiment(self.conn, exp_id)

    def start(self, exp_id: str, *, at: float | None = None, name: str = "",
              creator: str = "") -> Experiment:
        return _exps.start_experiment(self.conn, exp_id, at=at, name=name, creator=creator)

    def finish(self, exp_id: str, status: ExperimentStatus = ExperimentStatus.FINISHED,
               message: str | None = None, *, at: float | None = None) -> Experiment:
        return _exps.finish_experiment(self.conn, exp_id, status, message, at=at)

    def record_start(self, exp_id: str, *, at: float, name: str = "",
                     creator: str = "") -> Experiment:
        """Apply an ``experiment_start`` event (order-independent with its stop)."""
        return _exps.record_start(self.conn, exp_id, at=at, name=name, creator=creator)

    def record_stop(self, exp_id: str, status: ExperimentStatus, *, at: float,
                    message: str | None = None) -> Experiment:
        """Apply an ``experiment_stop`` event (order-independent with its start)."""
        return _exps.record_stop(self.conn, exp_id, status, at=at, message=message)


class ExpDB:
    """The experiment database at ``url``; tables are created when missing."""

    def __init__(self, url: str, *, create_tables: bool = True,
                 trash_retention_s: float | None = None,
                 runtime: InfluxRuntimeStore | None = None) -> None:
        self.url = url
        self.runtime = runtime
        self.engine = create_engine(url)
        self.trash_retention_s = trash_retention_s
        self._trash_checked = -float("inf")
        if create_tables:
            with storage_errors(url):
                from galileo.storage.migrations import upgrade

                upgrade(self.engine)  # schema.py for a new database; Alembic to head else
            self._purge_trash_if_due()

    @classmethod
    def from_settings(cls, settings: Settings) -> ExpDB:
        runtime = None
        if settings.expdb_driver == "mixed":
            from galileo.storage.influx import influx_store_from_settings

            runtime = influx_store_from_settings(settings)
        return cls(settings.expdb_connection_url(),
                   trash_retention_s=settings.trash_retention_s, runtime=runtime)

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
        self._purge_trash_if_due()
        with storage_errors(self.url), self.engine.begin() as conn:
            yield Transaction(conn, self.runtime)

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
        if self.runtime is not None:
            rows = self.runtime.traces(exp_id)[offset:]
            return rows[:limit] if limit is not None else rows
        with self._read() as conn:
            return _traces.select_traces(conn, exp_id, limit=limit, offset=offset)

    def count_traces(self, exp_id: str | None = None) -> int:
        if self.runtime is not None:
            return len(self.runtime.traces(exp_id))
        with self._read() as conn:
            return _traces.count_traces(conn, exp_id)

    def lb_traces(self, exp_id: str | None = None, *,
                  limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of requests ``galileo lb`` proxied, ordered by ``received_ns``."""
        with self._read() as conn:
            return _lb_traces.select_lb_traces(conn, exp_id, limit=limit)

    def count_lb_traces(self, exp_id: str | None = None) -> int:
        with self._read() as conn:
            return _lb_traces.count_lb_traces(conn, exp_id)

    def telemetry(self, exp_id: str | None = None, *, node: str | None = None,
                  metric: str | None = None, limit: int | None = None,
                  offset: int = 0) -> list[dict[str, Any]]:
        """Telemetry rows as dicts ordered by time (then node, metric, subsystem)."""
        if self.runtime is not None:
            rows = [r for r in self.runtime.telemetry(exp_id)
                    if node in (None, r["node"]) and metric in (None, r["metric"])]
            rows = rows[offset:]
            return rows[:limit] if limit is not None else rows
        with self._read() as conn:
            return _telemetry.select_telemetry(conn, exp_id, node=node, metric=metric,
                                               limit=limit, offset=offset)

    def insert_telemetry(self, exp_id: str | None, samples: Iterable[TelemetrySample]) -> int:
        """Store samples under ``exp_id`` (a replayed sample is stored once)."""
        with self.transaction() as tx:
            return tx.insert_telemetry([(exp_id, s) for s in samples])

    def nodeinfo(self, exp_id: str | None = None) -> dict[str, dict[str, str]]:
        """Node info recorded for ``exp_id``: ``{node: {key: value}}``."""
        with self._read() as conn:
            return _telemetry.select_nodeinfo(conn, exp_id)

    def count_telemetry(self, exp_id: str | None = None) -> int:
        if self.runtime is not None:
            return len(self.runtime.telemetry(exp_id))
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
                         creator: str | None = None, trash: bool = False,
                         limit: int | None = None, offset: int = 0) -> list[Experiment]:
        """Experiments newest first; deleted ones only (and only them) with ``trash``."""
        with self._read() as conn:
            return _exps.list_experiments(conn, status=status, creator=creator, trash=trash,
                                          limit=limit, offset=offset)

    # ------------------------------------------------------------------ trash
    def trash_experiment(self, exp_id: str, *, at: float | None = None) -> Experiment:
        """Move ``exp_id`` to the trash: hidden from lists, every row kept until purged."""
        with self.transaction() as tx:
            return _exps.trash_experiment(tx.conn, exp_id, at=at)

    def restore_experiment(self, exp_id: str) -> Experiment:
        """Bring ``exp_id`` back from the trash with all its traces, telemetry and events."""
        with self.transaction() as tx:
            return _exps.restore_experiment(tx.conn, exp_id)

    def purge_experiment(self, exp_id: str) -> bool:
        """Delete ``exp_id`` and all its rows for good; False when nothing matched."""
        with self.transaction() as tx:
            purged = _exps.purge_experiment(tx.conn, exp_id)
            if purged and self.runtime is not None:  # before the commit: both or neither
                self.runtime.delete_experiment(exp_id)
            return purged

    def purge_expired_trash(self, retention_s: float, *, now: float | None = None) -> list[str]:
        """Purge every experiment deleted more than ``retention_s`` ago; their ids."""
        before = (time.time() if now is None else now) - retention_s
        purged = []
        with storage_errors(self.url):
            with self.engine.connect() as conn:
                expired = _exps.expired_trash(conn, before)
            for exp_id in expired:  # one transaction each: a big experiment holds no others
                with self.engine.begin() as conn:
                    if _exps.purge_experiment(conn, exp_id):
                        if self.runtime is not None:
                            self.runtime.delete_experiment(exp_id)
                        purged.append(exp_id)
        return purged

    def _purge_trash_if_due(self) -> None:
        if self.trash_retention_s is None:
            return
        now = time.monotonic()
        if now - self._trash_checked < TRASH_CHECK_INTERVAL_S:
            return
        self._trash_checked = now
        try:
            purged = self.purge_expired_trash(self.trash_retention_s)
        except StorageError as e:  # the next check retries; the caller's work goes on
            log.warning("could not purge the expired trash: %s", e)
            return
        if purged:
            log.info("purged %d experiment(s) from the trash after %.0f s: %s", len(purged),
                     self.trash_retention_s, ", ".join(purged))
