"""Reads for analysis, reports and exports: whole tables of one experiment (paged or as column
rows), the packed per-trace numbers a run report aggregates, error and telemetry groupings, and
per-run totals.

Every function opens its own connection of ``db`` and maps database and driver errors to
``StorageError`` (a generator maps them while it is iterated), so nothing SQLAlchemy reaches the
dashboard, REST or the CLI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import sqlalchemy as sa

from galileo.protocol import request_unsent
from galileo.storage._engine import driver_errors
from galileo.storage.schema import telemetry, trace_failed, traces

if TYPE_CHECKING:
    from galileo.storage.expdb import ExpDB

NS_PER_S: Final = 1_000_000_000
EXPORT_TABLES: Final = {"traces": traces, "telemetry": telemetry}
# telemetry series a run report draws: (metric, subsystem); None: summed over subsystems
REPORT_SERIES: Final = (("cpu", ""), ("ram", "used"), ("rx", None), ("tx", None))


class Columns(NamedTuple):
    """Rows as tuples, with the names of their columns (what a DataFrame is built from)."""

    names: list[str]
    rows: list[Sequence[Any]]


def _columns(db: ExpDB, stmt: Any) -> Columns:
    with db._read() as conn:
        result = conn.execute(stmt)
        return Columns(list(result.keys()), [tuple(r) for r in result.fetchall()])


# ---------------------------------------------------------------------- whole tables
def export_columns(table: str) -> list[str]:
    """The column names of export table ``table`` (``traces`` or ``telemetry``)."""
    return [c.name for c in EXPORT_TABLES[table].columns]


def table_pages(db: ExpDB, table: str, exp_id: str, page_rows: int
                ) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``exp_id`` in export table ``table`` as dicts, ``page_rows`` per page, in
    primary-key order (each page is its own query: a large experiment never sits in memory)."""
    t = EXPORT_TABLES[table]
    order = list(t.primary_key.columns)
    offset = 0
    while True:
        stmt = (sa.select(t).where(t.c.exp_id == exp_id).order_by(*order)
                .limit(page_rows).offset(offset))
        with db._read() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        if not rows:
            return
        yield rows
        offset += len(rows)


def trace_columns(db: ExpDB, exp_id: str) -> Columns:
    """Every trace of ``exp_id``, ordered by send time (then request id)."""
    t = traces.c
    return _columns(db, sa.select(traces).where(t.exp_id == exp_id)
                    .order_by(t.sent_ns, t.request_id))


def telemetry_columns(db: ExpDB, exp_id: str) -> Columns:
    """``node, metric, subsystem, ts_ns, value`` of every sample of ``exp_id`` in time order."""
    t = telemetry.c
    return _columns(db, sa.select(t.node, t.metric, t.subsystem, t.ts_ns, t.value)
                    .where(t.exp_id == exp_id).order_by(t.ts_ns, t.node, t.metric, t.subsystem))


# ---------------------------------------------------------------------- run reports
def first_intended_ns(db: ExpDB, exp_id: str) -> int | None:
    """The earliest intended send time among the traces of ``exp_id`` (None: no trace)."""
    t = traces.c
    with db._read() as conn:
        first = conn.execute(sa.select(sa.func.min(t.intended_ns))
                             .where(t.exp_id == exp_id)).scalar()
    return None if first is None else int(first)


def trace_dimensions(db: ExpDB, exp_id: str) -> dict[str, list[str]]:
    """The sorted distinct ``service``, ``worker`` and ``host`` values of ``exp_id``'s traces."""
    t = traces.c
    with db._read() as conn:
        combos = conn.execute(sa.select(t.service, t.worker, t.host).where(t.exp_id == exp_id)
                              .group_by(t.service, t.worker, t.host)).all()
    return {key: sorted({str(c[k]) for c in combos})
            for k, key in enumerate(("service", "worker", "host"))}


def packed_traces(db: ExpDB, exp_id: str, t0_ns: int, names: dict[str, list[str]],
                  chunk_rows: int) -> Iterator[list[tuple[int, int]]]:
    """Two integers per trace of ``exp_id``, ``chunk_rows`` at a time: the latency from the
    intended send in µs, and ``((second * 4 + flags) * combos + key)`` where ``second`` counts
    from ``t0_ns``, ``flags`` is ``answered | failed << 1`` and ``key`` is the index of the
    trace's (service, worker, host) in ``names`` (row-major). Read through the driver's cursor
    in large chunks: no strings and no SQLAlchemy rows per trace."""
    t = traces.c
    n_w, n_h = len(names["worker"]), len(names["host"])
    n_keys = len(names["service"]) * n_w * n_h

    def code(column: Any, values: list[str]) -> Any:
        return sa.case({v: i for i, v in enumerate(values)}, value=column, else_=0)

    key = (code(t.service, names["service"]) * n_w + code(t.worker, names["worker"])) * n_h \
        + code(t.host, names["host"])
    flags = sa.case((t.status > 0, 1), else_=0) + 2 * sa.case((trace_failed(), 1), else_=0)
    second = (t.intended_ns - t0_ns) // NS_PER_S  # floor division on every backend
    stmt = sa.select((t.done_ns - t.intended_ns) // 1000,
                     (second * 4 + flags) * n_keys + key).where(t.exp_id == exp_id)
    with db._read() as conn, driver_errors(conn, db.redacted_url):
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with contextlib.closing(cursor):
            cursor.execute(sql)
            while chunk := cursor.fetchmany(chunk_rows):
                yield list(chunk)


def error_counts(db: ExpDB, exp_id: str, since_ns: int | None = None
                 ) -> list[tuple[str, str, int, int]]:
    """``(service, error, status, count)`` of the failed traces of ``exp_id`` (sent since
    ``since_ns`` when given)."""
    t = traces.c
    where = [t.exp_id == exp_id, trace_failed()]
    where += [t.sent_ns >= since_ns] if since_ns is not None else []
    stmt = (sa.select(t.service, t.error, t.status, sa.func.count())
            .where(*where).group_by(t.service, t.error, t.status))
    with db._read() as conn:
        return [(str(s), e, int(st), int(n)) for s, e, st, n in conn.execute(stmt)]


def report_telemetry(db: ExpDB, exp_id: str) -> list[tuple[str, str, int, float]]:
    """``(node, metric, ts_ns, value)`` in time order of the series in :data:`REPORT_SERIES`
    (network summed over interfaces)."""
    t = telemetry.c
    keep = sa.or_(*[t.metric == m if sub is None else sa.and_(t.metric == m, t.subsystem == sub)
                    for m, sub in REPORT_SERIES])
    stmt = sa.select(t.node, t.metric, t.ts_ns, sa.func.sum(t.value)).where(
        t.exp_id == exp_id, keep).group_by(t.node, t.metric, t.ts_ns).order_by(t.ts_ns)
    with db._read() as conn:
        return [(node, metric, int(ts), float(v)) for node, metric, ts, v in conn.execute(stmt)]


class RunCounts(NamedTuple):
    requests: int
    failed: int
    answered: int
    sent: int = 0


def trace_unsent() -> sa.ColumnElement[bool]:
    """``protocol.request_unsent`` as a SQL condition on the ``traces`` table."""
    t = traces.c
    clause: sa.ColumnElement[bool] = request_unsent(t.error, t.sent_ns, t.done_ns)
    return clause


def run_counts(db: ExpDB, exp_ids: Sequence[str],
               since_ns: int | None = None) -> dict[str, RunCounts]:
    """Requests, failed, answered (a status was received) and sent traces per run that has
    any; with ``since_ns``, only those sent (or given up) at or after it (indexed)."""
    if not exp_ids:
        return {}
    t = traces.c
    failed = sa.case((trace_failed(), 1), else_=0)
    answered = sa.case((t.status > 0, 1), else_=0)
    sent = sa.case((trace_unsent(), 0), else_=1)
    where: list[Any] = [t.exp_id.in_(list(exp_ids))]
    if since_ns is not None:
        where.append(t.sent_ns >= since_ns)
    with db._read() as conn:
        rows = conn.execute(sa.select(t.exp_id, sa.func.count(), sa.func.sum(failed),
                                      sa.func.sum(answered), sa.func.sum(sent))
                            .where(*where).group_by(t.exp_id)).all()
    return {exp_id: RunCounts(int(n), int(bad or 0), int(ok or 0), int(s or 0))
            for exp_id, n, bad, ok, s in rows}


def unsent_per_second(db: ExpDB, exp_id: str, t0_ns: int,
                      seconds: int) -> list[tuple[str, int, int]]:
    """``(service, second, count)`` of the unsent requests of ``exp_id`` by intended second
    since ``t0_ns`` (seconds outside ``0 .. seconds-1`` left out)."""
    t = traces.c
    second = (t.intended_ns - t0_ns) // NS_PER_S
    with db._read() as conn:
        rows = conn.execute(sa.select(t.service, second, sa.func.count())
                            .where(t.exp_id == exp_id, trace_unsent())
                            .group_by(t.service, second)).all()
    return [(str(s), int(sec), int(n)) for s, sec, n in rows if 0 <= int(sec) < seconds]


def answered_latency_us_at(db: ExpDB, exp_id: str, rank: int) -> int | None:
    """The ``rank``-th smallest (from 0) latency in whole microseconds from the intended send
    among the answered traces of ``exp_id`` (one ordered probe; the report's numpy selection
    reads the same whole microseconds), None past the last."""
    t = traces.c
    latency = (t.done_ns - t.intended_ns) // 1000
    with db._read() as conn:
        value = conn.execute(sa.select(latency).where(t.exp_id == exp_id, t.status > 0)
                             .order_by(latency).limit(1).offset(rank)).scalar()
    return None if value is None else int(value)

