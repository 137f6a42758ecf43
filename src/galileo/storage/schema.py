"""The experiment database schema, in one place; the migrations must build exactly this
(``tests/storage/test_schema_drift.py`` compares them on SQLite, MariaDB and PostgreSQL).

Table and column names follow the original Galileo (``experiments``, ``traces``, ``events``,
``telemetry``, ``nodeinfo``). The ``traces`` and ``telemetry`` columns are derived from the
records they store (:func:`record_columns`): ``experiments`` from ``storage.records.Experiment``,
``traces`` from ``protocol.Trace``, ``events`` from ``protocol.Event``, ``telemetry`` from
``protocol.TelemetrySample``, ``lb_traces`` from ``protocol.LbTrace``. Names, order, nullability
and defaults come from the record, only the SQL type of each field is said here (or, where the
table differs from the record, the whole column), and a field without one fails at import.
Wall-clock times of requests are unix nanoseconds (``*_ns``, BIGINT); the experiment lifecycle
columns (``created``, ``start``, ``end``, ``deleted_at``) are unix seconds (DOUBLE). There are
no foreign keys on purpose: traces may reach the recorder before the event that creates their
experiment.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Final

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from galileo.protocol import Event, LbTrace, TelemetrySample, Trace, request_failed
from galileo.storage.records import Experiment, field_names, record_fields
from galileo.storage.records import ExperimentStatus as ExperimentStatus  # its old home

REQUEST_ID_LEN: Final = 32
LB_REQUEST_ID_LEN: Final = 64  # the client's X-Request-Id, cut to this length
EXP_ID_LEN: Final = 64
NAME_LEN: Final = 128
SOURCE_ID_LEN: Final = 200

EVENT_NAME_LEN: Final = 255


SqlType = sa.types.TypeEngine[Any] | type[sa.types.TypeEngine[Any]]


def _nullable(annotation: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed) of a field annotation."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else annotation), len(args) < len(
            typing.get_args(annotation))
    return annotation, False


def record_columns(record: type, sql_types: Mapping[str, SqlType | sa.Column[Any]], *,
                   primary_key: str | None = None,
                   defaults: Mapping[str, Any] | None = None) -> list[sa.Column[Any]]:
    """One column per field of ``record`` (a ``msgspec.Struct`` or dataclass), in field order:
    the name, nullability (``X | None``) and default come from the record, the SQL type from
    ``sql_types`` (``int`` fields default to BIGINT, ``float`` to DOUBLE; a ``str`` field must
    be given one). Where the table stores a field differently, ``sql_types`` gives the whole
    ``Column`` for it; ``defaults`` adds column defaults the record does not have."""
    fields = record_fields(record)
    unknown = (set(sql_types) | set(defaults or {})) - {f.name for f in fields}
    if unknown:
        raise TypeError(f"SQL types given for fields {record.__name__} lacks: {sorted(unknown)}")
    columns: list[sa.Column[Any]] = []
    for f in fields:
        spec = sql_types.get(f.name)
        if isinstance(spec, sa.Column):
            columns.append(spec)
            continue
        base, nullable = _nullable(f.type)
        sql_type = spec or {int: sa.BigInteger, float: sa.Double}.get(base)
        if sql_type is None:
            raise TypeError(f"{record.__name__}.{f.name} needs an SQL type in schema.py")
        default = (defaults or {}).get(f.name, None if f.default is msgspec.NODEFAULT
                                       else f.default)
        columns.append(sa.Column(f.name, sql_type, primary_key=f.name == primary_key,
                                 nullable=nullable, default=default))
    return columns


metadata: Final = sa.MetaData()

experiments: Final = sa.Table(
    "experiments",
    metadata,
    *record_columns(Experiment, {
        "id": sa.String(EXP_ID_LEN), "name": sa.String(255), "creator": sa.String(NAME_LEN),
        "status": sa.String(16), "status_message": sa.Text, "stage": sa.String(255),
    }, primary_key="id", defaults={"name": "", "creator": "", "progress": 0.0,
                                   "status": ExperimentStatus.QUEUED.value}),
)

traces: Final = sa.Table(
    "traces",
    metadata,
    *record_columns(Trace, {
        "request_id": sa.String(REQUEST_ID_LEN), "exp_id": sa.String(EXP_ID_LEN),
        "group_id": sa.String(NAME_LEN), "client_id": sa.String(NAME_LEN),
        "worker": sa.String(NAME_LEN), "service": sa.String(NAME_LEN), "host": sa.String(255),
        "method": sa.String(16), "path": sa.String(1024), "status": sa.Integer,
        "error": sa.Text,
    }, primary_key="request_id"),
    sa.Index("ix_traces_exp_id_sent_ns", "exp_id", "sent_ns"),
)


def trace_failed() -> sa.ColumnElement[bool]:
    """``protocol.request_failed`` as a SQL condition on the ``traces`` table."""
    clause: sa.ColumnElement[bool] = request_failed(traces.c.status, traces.c.error)
    return clause


events: Final = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *record_columns(Event, {
        "kind": sa.String(32), "exp_id": sa.String(EXP_ID_LEN),
        "name": sa.String(EVENT_NAME_LEN),
        "data": sa.Column("data", sa.JSON, nullable=True),
        # the event's identity (``event/<Event.id>``, or ``<stream>/<entry id>`` for an event
        # without one), so a replayed event is not stored twice
        "id": sa.Column("source_id", sa.String(SOURCE_ID_LEN), nullable=True, unique=True),
    }),
    sa.Index("ix_events_exp_id", "exp_id"),
)
# field of ``protocol.Event`` -> its column in ``events``
EVENT_COLUMNS: Final = dict(zip(field_names(Event), [c.name for c in events.columns][1:],
                                strict=True))

telemetry: Final = sa.Table(
    "telemetry",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("exp_id", sa.String(EXP_ID_LEN), nullable=True),
    *record_columns(TelemetrySample, {
        "node": sa.String(NAME_LEN), "metric": sa.String(NAME_LEN),
        "subsystem": sa.String(NAME_LEN),
    }),
    sa.Index("ix_telemetry_exp_id_ts_ns", "exp_id", "ts_ns"),
    # one value per series and instant: a replayed stream entry is not stored twice
    sa.Index("ux_telemetry_sample", "node", "metric", "subsystem", "ts_ns", unique=True),
)
# the columns of a stored sample: ``exp_id`` (from its batch), then every TelemetrySample field
TELEMETRY_COLUMNS: Final = ("exp_id", *field_names(TelemetrySample))
TRACE_COLUMNS: Final = field_names(Trace)
EXPERIMENT_COLUMNS: Final = field_names(Experiment)

nodeinfo: Final = sa.Table(
    "nodeinfo",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("exp_id", sa.String(EXP_ID_LEN), nullable=True, index=True),
    sa.Column("node", sa.String(NAME_LEN), nullable=False),
    sa.Column("key", sa.String(NAME_LEN), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
)

# what an experiment was run from: the scenario or script and the settings (no secrets), as JSON
metadata_table: Final = sa.Table(
    "metadata",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("exp_id", sa.String(EXP_ID_LEN), nullable=False, index=True),
    sa.Column("key", sa.String(NAME_LEN), nullable=False),
    sa.Column("value", sa.JSON, nullable=True),
)

# client apps (request generators uploaded as zips, fetched by workers): see storage/apps.py
client_apps: Final = sa.Table(
    "client_apps",
    metadata,
    sa.Column("name", sa.String(NAME_LEN), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("content", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
              nullable=False),
    sa.Column("uploaded", sa.Double, nullable=False),
)

# requests as ``galileo lb`` proxied them (protocol.LbTrace): see storage/lb_traces.py
lb_traces: Final = sa.Table(
    "lb_traces",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    *record_columns(LbTrace, {
        "request_id": sa.String(LB_REQUEST_ID_LEN), "exp_id": sa.String(EXP_ID_LEN),
        "lb": sa.String(NAME_LEN), "service": sa.String(NAME_LEN), "backend": sa.String(255),
        "policy": sa.String(255), "method": sa.String(16), "path": sa.String(1024),
        "status": sa.Integer, "error": sa.String(32), "attempts": sa.Integer,
    }),
    sa.Index("ix_lb_traces_exp_id_received_ns", "exp_id", "received_ns"),
    # a replayed stream entry is not stored twice
    sa.Index("ux_lb_traces_request", "lb", "request_id", "received_ns", unique=True),
)
LB_TRACE_COLUMNS: Final = field_names(LbTrace)

# tables whose rows belong to one experiment (deleted with it)
EXPERIMENT_TABLES: Final = (traces, events, telemetry, nodeinfo, metadata_table, lb_traces)
