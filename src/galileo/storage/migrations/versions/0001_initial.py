"""The initial expdb schema (experiments, traces, events, telemetry, nodeinfo) as before jobs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("creator", sa.String(128), nullable=False),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("start", sa.Double, nullable=True),
        sa.Column("end", sa.Double, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("progress", sa.Double, nullable=False),
    )
    op.create_table(
        "traces",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("exp_id", sa.String(64), nullable=True),
        sa.Column("group_id", sa.String(128), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("intended_ns", sa.BigInteger, nullable=False),
        sa.Column("sent_ns", sa.BigInteger, nullable=False),
        sa.Column("done_ns", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("bytes_received", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_traces_exp_id_sent_ns", "traces", ["exp_id", "sent_ns"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exp_id", sa.String(64), nullable=True, index=True),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("source_id", sa.String(200), nullable=True, unique=True),
    )
    op.create_table(
        "telemetry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("exp_id", sa.String(64), nullable=True),
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("subsystem", sa.String(128), nullable=False),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
    )
    op.create_index("ix_telemetry_exp_id_ts_ns", "telemetry", ["exp_id", "ts_ns"])
    op.create_table(
        "nodeinfo",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exp_id", sa.String(64), nullable=True, index=True),
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("nodeinfo", "telemetry", "events", "traces", "experiments"):
        op.drop_table(table)
