"""A trace batch on the wire: columns with a string table (what workers send), or rows.

A stream entry of the traces stream holds one batch of up to ``TRACE_BATCH_MAX`` traces. Workers
send it in **columns**: every string column except ``request_id`` (the experiment, group,
client, worker, service, host, method, path, error) as indexes into one table of the batch's
distinct strings, the other columns as plain lists. A batch repeats those strings in nearly
every trace, so columns are about 40 % smaller in Redis than rows, and the recorder decodes
them into database rows without a Python object per repeated string (see
:func:`column_rows`).

The **rows** form (``TraceBatch``, one array per trace) is what Galileo sent before; it is
still read everywhere, so entries left by an older worker or in a worker's spill file are
recorded as before. The two are told apart by the first byte: a row batch is a msgpack array
of 2 (``0x92``), a column batch an array of ``3 + len(TRACE_FIELDS)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Annotated, Any, Final, TypeAlias

import msgspec

from galileo.protocol.records import Trace, TraceBatch

TraceRow: TypeAlias = tuple[Any, ...]
"""One trace's values in :data:`TRACE_FIELDS` order (what the database inserts)."""

TRACE_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Trace))
INDEXED_FIELDS: Final = frozenset(
    f.name for f in msgspec.structs.fields(Trace)
    if f.name != "request_id" and f.type in (str, str | None))
"""The string columns sent as indexes into the batch's string table."""

COLUMNS_FORMAT: Final = 2  # the first element of a column batch
_ROWS_HEADER: Final = b"\x92"  # TraceBatch: an array of [worker, traces]

_Index = Annotated[int, msgspec.Meta(ge=0)]


def _columns_type() -> type[msgspec.Struct]:
    fields: list[tuple[str, Any]] = [("format", int), ("sender", str),
                                     ("strings", list[str | None])]
    for f in msgspec.structs.fields(Trace):
        if f.name in INDEXED_FIELDS:
            fields.append((f.name, list[_Index]))
        else:
            fields.append((f.name, list[f.type]))  # type: ignore[name-defined]
    return msgspec.defstruct("TraceColumns", fields, array_like=True)


TraceColumns: Final = _columns_type()
"""A column batch as decoded: ``format``, ``sender`` (the worker), ``strings`` (the string
table), then one list per field of ``Trace`` in order (indexes for :data:`INDEXED_FIELDS`)."""

_encoder: Final = msgspec.msgpack.Encoder()
_columns_decoder: Final = msgspec.msgpack.Decoder(TraceColumns)
_rows_decoder: Final = msgspec.msgpack.Decoder(TraceBatch)
_NULLABLE: Final = frozenset(f.name for f in msgspec.structs.fields(Trace)
                             if f.type == str | None)
_INDEXED_AT: Final = tuple(i for i, name in enumerate(TRACE_FIELDS) if name in INDEXED_FIELDS)


def encode_trace_batch(worker: str, traces: Sequence[Trace]) -> bytes:
    """The payload of one traces-stream entry: ``traces`` of ``worker`` in columns."""
    if traces:
        columns: list[Any] = list(zip(*map(msgspec.structs.astuple, traces), strict=True))
    else:
        columns = [() for _ in TRACE_FIELDS]
    table: dict[str | None, int] = {}
    for i in _INDEXED_AT:
        column = columns[i]
        distinct = dict.fromkeys(column)  # first-seen order
        for value in distinct:
            table.setdefault(value, len(table))
        if len(distinct) == 1:  # the usual case for most columns: one experiment, one worker
            columns[i] = [table[column[0]]] * len(column)
        else:
            columns[i] = list(map(table.__getitem__, column))
    return _encoder.encode([COLUMNS_FORMAT, worker, list(table), *columns])


def is_row_batch(data: bytes) -> bool:
    """Whether ``data`` is a batch in the rows form (``TraceBatch``) rather than columns."""
    return data[:1] == _ROWS_HEADER


def decode_trace_columns(data: bytes) -> Any:
    """A column batch as :data:`TraceColumns` (``msgspec`` errors for a malformed one; a
    ``ValidationError`` when it has another format number)."""
    columns: Any = _columns_decoder.decode(data)
    if columns.format != COLUMNS_FORMAT:
        raise msgspec.ValidationError(f"trace batch format {columns.format} is not "
                                      f"{COLUMNS_FORMAT}")
    return columns


def column_rows(columns: Any) -> list[TraceRow]:
    """The rows of a decoded column batch. ``ValueError`` when the columns differ in length or
    a column that cannot be null points at a null, ``IndexError`` when an index is past the
    string table."""
    strings = columns.strings
    null = strings.index(None) if None in strings else -1
    values: list[Any] = []
    for name in TRACE_FIELDS:
        column = getattr(columns, name)
        if name in INDEXED_FIELDS and column:
            if null >= 0 and name not in _NULLABLE and null in column:
                raise ValueError(f"{name} is null")
            picked = itemgetter(*column)(strings)
            column = picked if len(column) > 1 else (picked,)
        values.append(column)
    return list(zip(*values, strict=True))


def decode_trace_batch(data: bytes) -> TraceBatch:
    """One entry's payload, in either form, as a ``TraceBatch`` (malformed input raises
    ``msgspec.DecodeError``/``ValidationError``)."""
    if is_row_batch(data):
        return _rows_decoder.decode(data)
    columns = decode_trace_columns(data)
    try:
        rows = column_rows(columns)
    except (ValueError, IndexError) as e:
        raise msgspec.ValidationError(f"malformed trace columns: {e}") from None
    return TraceBatch(worker=columns.sender, traces=traces_of_rows(rows))


def trace_rows(traces: Sequence[Trace]) -> list[TraceRow]:
    """``traces`` as rows (values in :data:`TRACE_FIELDS` order)."""
    return [msgspec.structs.astuple(t) for t in traces]


def traces_of_rows(rows: Sequence[TraceRow]) -> list[Trace]:
    """Rows back as ``Trace`` objects (types checked: ``ValidationError`` for a bad value)."""
    return msgspec.convert(rows, list[Trace])
