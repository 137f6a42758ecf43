"""Telemetry samples unique per series and instant (duplicates already stored are removed,
keeping the first row), the sample's ``window_ns``, and the trash (``experiments.deleted_at``).
Idempotent: a database created from a newer ``schema.py`` before it was stamped is left alone.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SAMPLE_KEY = ("node", "metric", "subsystem", "ts_ns")


def _remove_duplicate_samples() -> None:
    """Delete every sample whose series and instant an earlier row (smaller id) already has.
    The inner select is wrapped in a derived table: MariaDB/MySQL refuse a subquery on the
    table a DELETE targets otherwise."""
    key = ", ".join(SAMPLE_KEY)
    op.execute(f"DELETE FROM telemetry WHERE id NOT IN (SELECT keep FROM (SELECT MIN(id) AS keep "
               f"FROM telemetry GROUP BY {key}) AS first_rows)")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "ux_telemetry_sample" not in {i["name"] for i in inspector.get_indexes("telemetry")}:
        _remove_duplicate_samples()
        op.create_index("ux_telemetry_sample", "telemetry", list(SAMPLE_KEY), unique=True)
    if "window_ns" not in {c["name"] for c in inspector.get_columns("telemetry")}:
        with op.batch_alter_table("telemetry") as batch:
            batch.add_column(sa.Column("window_ns", sa.BigInteger, nullable=False,
                                       server_default="0"))
    if "deleted_at" not in {c["name"] for c in inspector.get_columns("experiments")}:
        with op.batch_alter_table("experiments") as batch:
            batch.add_column(sa.Column("deleted_at", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("telemetry") as batch:
        batch.drop_column("window_ns")
    op.drop_index("ux_telemetry_sample", table_name="telemetry")
