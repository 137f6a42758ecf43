"""Export an experiment's traces and telemetry to CSV or Parquet (pyarrow, the ``export``
extra), streamed in pages so a large experiment never sits in memory whole, or to one InfluxDB
line-protocol file (``influx-lp``: ``<exp_id>.lp``, the measurements of
:mod:`galileo.storage.influx`), loadable with ``influx write`` or a POST to ``/write``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from galileo.errors import ConfigError, ValidationError
from galileo.storage import ExpDB, reads

PAGE_ROWS: Final = 50_000
TABLES: Final = tuple(reads.EXPORT_TABLES)
FORMATS: Final = ("csv", "parquet", "influx-lp")


def _pages(db: ExpDB, table: str, exp_id: str) -> Iterator[list[dict[str, Any]]]:
    if db.runtime is not None:  # the mixed expdb: rows are in InfluxDB
        rows = db.traces(exp_id) if table == "traces" else db.telemetry(exp_id)
        if rows:
            yield rows
        return
    yield from reads.table_pages(db, table, exp_id, PAGE_ROWS)


def export(db: ExpDB, exp_id: str, out_dir: Path, fmt: str = "csv",
           tables: tuple[str, ...] = ("traces", "telemetry")) -> dict[str, tuple[Path, int]]:
    """Write ``<out_dir>/<exp_id>-<table>.<fmt>`` per table; returns path and row count."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; use csv, parquet or influx-lp")
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "influx-lp":
        return _line_protocol(db, exp_id, out_dir / f"{exp_id}.lp", tables)
    written = {}
    for name in tables:
        path = out_dir / f"{exp_id}-{name}.{fmt}"
        columns = reads.export_columns(name)
        count = (_csv if fmt == "csv" else _parquet)(_pages(db, name, exp_id), path, columns)
        written[name] = (path, count)
    return written


def _line_protocol(db: ExpDB, exp_id: str, path: Path,
                   tables: tuple[str, ...]) -> dict[str, tuple[Path, int]]:
    from galileo.protocol import TelemetrySample, Trace
    from galileo.storage.influx import telemetry_lines, trace_line

    trace_fields = Trace.__struct_fields__
    sample_fields = TelemetrySample.__struct_fields__
    counts = dict.fromkeys(tables, 0)
    with path.open("w") as f:
        for name in tables:
            for rows in _pages(db, name, exp_id):
                if name == "traces":
                    lines = [trace_line(Trace(**{k: r[k] for k in trace_fields})) for r in rows]
                else:
                    lines = telemetry_lines(
                        [(r["exp_id"], TelemetrySample(**{k: r[k] for k in sample_fields}))
                         for r in rows])
                f.writelines(line + "\n" for line in lines)
                counts[name] += len(lines)
    return {name: (path, count) for name, count in counts.items()}


def _csv(pages: Iterator[list[dict[str, Any]]], path: Path, columns: list[str]) -> int:
    count = 0
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for rows in pages:
            writer.writerows(rows)
            count += len(rows)
    return count


def _parquet(pages: Iterator[list[dict[str, Any]]], path: Path, columns: list[str]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("Parquet export needs pyarrow: pip install 'galileo[export]'") from None
    count = 0
    writer = None
    try:
        for rows in pages:
            batch = pa.Table.from_pylist(rows)
            if writer is None:
                writer = pq.ParquetWriter(str(path), batch.schema)
            writer.write_table(batch.cast(writer.schema))
            count += len(rows)
        if writer is None:  # no rows: an empty file with the column names
            pq.write_table(pa.table({c: pa.array([], pa.string()) for c in columns}), str(path))
    finally:
        if writer is not None:
            writer.close()
    return count
