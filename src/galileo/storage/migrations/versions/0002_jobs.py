"""Experiments as jobs: ``experiments.stage`` and the ``metadata`` table. Idempotent: a
database created from a newer ``schema.py`` before it was stamped is left as it is.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "stage" not in {c["name"] for c in inspector.get_columns("experiments")}:
        with op.batch_alter_table("experiments") as batch:
            batch.add_column(sa.Column("stage", sa.String(255), nullable=True))
    if not inspector.has_table("metadata"):
        op.create_table(
            "metadata",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("exp_id", sa.String(64), nullable=False, index=True),
            sa.Column("key", sa.String(128), nullable=False),
            sa.Column("value", sa.JSON, nullable=True),
        )


def downgrade() -> None:
    op.drop_table("metadata")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("stage")
