"""The experiment database schema, in one place (a later migration tool starts from here).

Table and column names follow the seed (``experiments``, ``traces``, ``events``, ``telemetry``,
``nodeinfo``). Wall-clock times of requests are unix nanoseconds (``*_ns``, BIGINT); the
experiment lifecycle columns (``created``, ``start``, ``end``) are unix seconds (DOUBLE) as in
the seed. There are no foreign keys on purpose: traces may reach the recorder before the event
that creates their experiment.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import sqlalchemy as sa

REQUEST_ID_LEN: Final = 32
EXP_ID_LEN: Final = 64
NAME_LEN: Final = 128
SOURCE_ID_LEN: Final = 200


class ExperimentStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


metadata: Final = sa.MetaData()

experiments: Final = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.String(EXP_ID_LEN), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, default=""),
    sa.Column("creator", sa.String(NAME_LEN), nullable=False, default=""),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("start", sa.Double, nullable=True),
    sa.Column("end", sa.Double, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, default=ExperimentStatus.QUEUED.value),
    sa.Column("status_message", sa.Text, nullable=True),
    sa.Column("progress", sa.Double, nullable=False, default=0.0),
    # the stage a running experiment is in (scenario stage or script line), for status views
    sa.Column("stage", sa.String(255), nullable=True),
)

traces: Final = sa.Table(
    "traces",
    metadata,
    sa.Column("request_id", sa.String(REQUEST_ID_LEN), primary_key=True),
    sa.Column("exp_id", sa.String(EXP_ID_LEN), nullable=True),
    sa.Column("group_id", sa.String(NAME_LEN), nullable=False),
    sa.Column("client_id", sa.String(NAME_LEN), nullable=False),
    sa.Column("worker", sa.String(NAME_LEN), nullable=False),
    sa.Column("service", sa.String(NAME_LEN), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("intended_ns", sa.BigInteger, nullable=False),
    sa.Column("sent_ns", sa.BigInteger, nullable=False),
    sa.Column("done_ns", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("bytes_received", sa.BigInteger, nullable=False, default=0),
    sa.Index("ix_traces_exp_id_sent_ns", "exp_id", "sent_ns"),
)

events: Final = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("exp_id", sa.String(EXP_ID_LEN), nullable=True, index=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.String(255), nullable=False, default=""),
    sa.Column("data", sa.JSON, nullable=True),
    # where the event came from (``<stream>/<entry id>``), so a replayed entry is not stored twice
    sa.Column("source_id", sa.String(SOURCE_ID_LEN), nullable=True, unique=True),
)

telemetry: Final = sa.Table(
    "telemetry",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("exp_id", sa.String(EXP_ID_LEN), nullable=True),
    sa.Column("node", sa.String(NAME_LEN), nullable=False),
    sa.Column("metric", sa.String(NAME_LEN), nullable=False),
    sa.Column("subsystem", sa.String(NAME_LEN), nullable=False, default=""),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Index("ix_telemetry_exp_id_ts_ns", "exp_id", "ts_ns"),
    # one value per series and instant: a replayed stream entry is not stored twice
    sa.Index("ux_telemetry_sample", "node", "metric", "subsystem", "ts_ns", unique=True),
)

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

# tables whose rows belong to one experiment (deleted with it)
EXPERIMENT_TABLES: Final = (traces, events, telemetry, nodeinfo, metadata_table)
