"""Alembic environment: the connection comes from ``config.attributes`` (ExpDB) or from
``sqlalchemy.url`` / ``galileo_*`` settings (the ``alembic`` command line)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from galileo.storage.schema import metadata

config = context.config


def _run(conn: sa.Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        _run(conn)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from galileo.settings import Settings

        url = Settings.from_env().expdb_connection_url()
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from galileo.storage._engine import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


main()
