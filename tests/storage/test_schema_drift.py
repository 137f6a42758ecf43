"""One schema: a database built by the migrations alone (``alembic upgrade head``) is exactly the
SQLAlchemy metadata (tables, columns, types, nullability, indexes, unique constraints), and the
trace/telemetry columns, REST schemas and bulk column lists follow ``protocol``'s records. On
SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from galileo.protocol import TelemetrySample, Trace
from galileo.storage import _bulk, schema
from galileo.storage.migrations import config
from galileo.storage.scratch import scratch_database
from galileo.web import schemas

FIELDS = [f.name for f in msgspec.structs.fields(Trace)]


def _upgrade(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _drift(url: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return [d for d in compare_metadata(ctx, schema.metadata)
                    if not (isinstance(d, tuple) and d[0] == "remove_table"
                            and d[1].name == "alembic_version")]
    finally:
        engine.dispose()


@pytest.fixture
def scratch_url(expdb_url: str) -> Iterator[str]:
    with scratch_database(expdb_url, prefix="gdrift") as url:
        yield url


def test_migrations_build_exactly_the_metadata(scratch_url: str) -> None:
    _upgrade(scratch_url, "head")
    assert _drift(scratch_url) == []


def test_a_dropped_index_is_reported_as_drift(sqlite_url: str) -> None:
    """The comparison itself sees what matters (here: the unique sample index)."""
    _upgrade(sqlite_url, "head")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ux_telemetry_sample"))
    engine.dispose()
    drift = _drift(sqlite_url)
    assert [d[0] for d in drift] == ["add_index"] and drift[0][1].name == "ux_telemetry_sample"


def test_tables_and_rest_schemas_follow_the_protocol_records() -> None:
    assert [c.name for c in schema.traces.columns] == FIELDS == list(_bulk.TRACE_COLUMNS)
    assert list(schemas.TracePublic.model_fields) == FIELDS
    sample = ["exp_id", *(f.name for f in msgspec.structs.fields(TelemetrySample))]
    assert [c.name for c in schema.telemetry.columns][1:] == sample
    assert list(schemas.TelemetryPublic.model_fields) == sample == list(schema.TELEMETRY_COLUMNS)
    nullable = {f.name for f in msgspec.structs.fields(Trace) if "None" in repr(f.type)}
    assert {c.name for c in schema.traces.columns if c.nullable} == nullable == {"exp_id"}


def test_a_field_without_sql_type_fails_loudly() -> None:
    class Odd(msgspec.Struct):
        label: str

    with pytest.raises(TypeError, match=r"Odd\.label needs an SQL type"):
        schema.record_columns(Odd, {})
    with pytest.raises(TypeError, match="lacks"):
        schema.record_columns(Odd, {"label": sa.Text, "gone": sa.Text})
