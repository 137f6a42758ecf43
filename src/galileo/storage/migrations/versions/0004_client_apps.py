"""The client-app repository: ``client_apps`` (name, content hash, size, manifest, the zip).
Idempotent: a database created from a newer ``schema.py`` before it was stamped is left alone.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("client_apps"):
        return
    op.create_table(
        "client_apps",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.Column("content", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
                  nullable=False),
        sa.Column("uploaded", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_apps")
