"""``lb_traces``: requests as ``galileo lb`` proxied them (``protocol.LbTrace``).
Idempotent: a database created from a newer ``schema.py`` before it was stamped is left alone.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("lb_traces"):
        return
    op.create_table(
        "lb_traces",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("exp_id", sa.String(64), nullable=True),
        sa.Column("lb", sa.String(128), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("backend", sa.String(255), nullable=False),
        sa.Column("policy", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("received_ns", sa.BigInteger, nullable=False),
        sa.Column("upstream_sent_ns", sa.BigInteger, nullable=False),
        sa.Column("upstream_done_ns", sa.BigInteger, nullable=False),
        sa.Column("done_ns", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    op.create_index("ix_lb_traces_exp_id_received_ns", "lb_traces", ["exp_id", "received_ns"])
    op.create_index("ux_lb_traces_request", "lb_traces", ["lb", "request_id", "received_ns"],
                    unique=True)


def downgrade() -> None:
    op.drop_table("lb_traces")
