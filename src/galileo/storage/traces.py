"""Trace rows: the hot path (batched insert that ignores duplicate request ids) and queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, Literal, TypeVar, cast, get_args, get_type_hints

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from galileo.protocol import Trace, TraceBatch, TraceRow, trace_rows
from galileo.protocol.trace_wire import INDEXED_FIELDS
from galileo.storage._bulk import bulk_insert_rows, executemany_insert_rows
from galileo.storage.schema import TRACE_COLUMNS
from galileo.storage.schema import traces as traces_table


def insert_ignore(conn: sa.Connection, table: sa.Table) -> sa.Insert:
    """``INSERT`` into ``table`` that skips rows whose primary/unique key already exists."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect in ("mysql", "mariadb"):
        return table.insert().prefix_with("IGNORE")
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


def trace_row(t: Trace) -> dict[str, Any]:
    """The column values of one trace, by column name."""
    return dict(zip(TRACE_COLUMNS, msgspec.structs.astuple(t), strict=True))


IngestMethod = Literal["bulk", "executemany"]


def insert_traces(conn: sa.Connection, traces: Sequence[Trace],
                  method: IngestMethod = "bulk") -> int:
    """Insert ``traces`` in bulk (COPY, multi-row INSERT, large executemany: see ``_bulk``),
    or with ``method="executemany"`` the plain batched way (for comparison); duplicates by
    ``request_id`` are ignored either way.

    Returns the rows newly inserted when the driver reports it, else the rows attempted."""
    return insert_trace_rows(conn, trace_rows(traces), method)


def insert_trace_rows(conn: sa.Connection, rows: Sequence[TraceRow],
                      method: IngestMethod = "bulk") -> int:
    """:func:`insert_traces` for rows (values in ``TRACE_COLUMNS`` order): the recorder's
    path, which decodes a batch straight into rows."""
    if method == "executemany":
        return executemany_insert_rows(conn, rows)
    return bulk_insert_rows(conn, rows)


def _where_exp(stmt: Any, exp_id: str | None) -> Any:
    return stmt if exp_id is None else stmt.where(traces_table.c.exp_id == exp_id)


def select_traces(conn: sa.Connection, exp_id: str | None = None, *, limit: int | None = None,
                  offset: int = 0) -> list[dict[str, Any]]:
    """Traces as dicts, ordered by send time (then request id), optionally of one experiment."""
    stmt = _where_exp(sa.select(traces_table), exp_id)
    stmt = stmt.order_by(traces_table.c.sent_ns, traces_table.c.request_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def count_traces(conn: sa.Connection, exp_id: str | None = None) -> int:
    """How many traces (of one experiment, or all)."""
    stmt = _where_exp(sa.select(sa.func.count()).select_from(traces_table), exp_id)
    return int(conn.execute(stmt).scalar_one())


_S = TypeVar("_S", bound=msgspec.Struct)
_INT32: Final = 2**31
_INT64: Final = 2**63


class FitCheck:
    """Why a record cannot be stored in ``table`` (a string too long, an integer out of
    range, no request id), checked before inserting so one bad record never makes a whole
    batch fail forever. Limits come from the table's column types.

    Fast paths for the recorder: :meth:`checked_type` makes msgspec enforce the limits while
    decoding (traces); :meth:`misfits` clears a whole batch with a predicate compiled once per
    record type (lb traces, and a trace batch the checked decoding refused). Only a batch
    holding a misfit is looked at record by record with :meth:`problem` for the reason."""

    def __init__(self, table: sa.Table) -> None:
        self.strings = {c.name: c.type.length for c in table.columns
                        if isinstance(c.type, sa.String) and c.type.length}
        self.ints = {c.name: _INT64 if isinstance(c.type, sa.BigInteger) else _INT32
                     for c in table.columns
                     if isinstance(c.type, sa.Integer) and not c.primary_key}
        self._fits: dict[type, Callable[[Any], bool]] = {}

    def _compile(self, kind: type) -> Callable[[Any], bool]:
        """``fits(record)`` for records of ``kind``: the same rules as :meth:`problem`."""
        fields = set(getattr(kind, "__struct_fields__", ()))
        terms = ["r.request_id"]
        terms += [f"(r.{n} is None or len(r.{n}) <= {limit})"
                  for n, limit in self.strings.items() if n in fields]
        terms += [f"(r.{n} is None or {-bound} <= r.{n} < {bound})"
                  for n, bound in self.ints.items() if n in fields]
        namespace: dict[str, Any] = {}
        exec(f"def fits(r):\n    return bool({' and '.join(terms)})\n", namespace)
        fits: Callable[[Any], bool] = namespace["fits"]
        return fits

    def checked_type(self, kind: type[_S]) -> type[_S]:
        """A subclass of the struct ``kind`` whose decoding enforces these limits (msgspec
        constraints, checked in C while decoding): ``ValidationError`` for a record that
        :meth:`problem` would refuse, the same record otherwise."""
        hints = get_type_hints(kind)
        fields: list[tuple[str, Any]] = []
        for name in kind.__struct_fields__:
            if name == "request_id":
                meta = msgspec.Meta(min_length=1, max_length=self.strings.get(name))
            elif name in self.strings:
                meta = msgspec.Meta(max_length=self.strings[name])
            elif name in self.ints:
                meta = msgspec.Meta(ge=-self.ints[name], le=self.ints[name] - 1)
            else:
                continue
            base = str if name == "request_id" or name in self.strings else int
            hint: Any = Annotated[base, meta]
            fields.append((name, hint | None if type(None) in get_args(hints[name]) else hint))
        config = kind.__struct_config__
        checked = msgspec.defstruct(f"Checked{kind.__name__}", fields, bases=(kind,),
                                    kw_only=True, array_like=config.array_like)
        return cast("type[_S]", checked)

    def columns_fit(self, columns: Any) -> bool:
        """Whether every trace of a decoded column batch (``TraceColumns``) fits: checked per
        column at C speed, the string table's lengths once. False sends the caller to
        :meth:`misfits` for the traces and reasons."""
        ids = columns.request_id
        if ids:
            limit = self.strings.get("request_id")
            if min(map(len, ids)) == 0 or (limit is not None and max(map(len, ids)) > limit):
                return False
        longest = max((len(s) for s in columns.strings if s is not None), default=0)
        for name, limit in self.strings.items():
            if longest > limit and name in INDEXED_FIELDS:
                strings = columns.strings
                if any(strings[i] is not None and len(strings[i]) > limit
                       for i in set(getattr(columns, name))):
                    return False
        for name, bound in self.ints.items():
            values = getattr(columns, name, None)
            if values and (min(values) < -bound or max(values) >= bound):
                return False
        return True

    def misfits(self, records: Sequence[Any]) -> list[tuple[int, str]]:
        """``(index, reason)`` of every record in ``records`` that cannot be stored."""
        if not records:
            return []
        kind = type(records[0])
        fits = self._fits.get(kind)
        if fits is None:
            fits = self._fits[kind] = self._compile(kind)
        if all(type(r) is kind for r in records) and all(map(fits, records)):
            return []
        return [(i, reason) for i, r in enumerate(records)
                if (reason := self.problem(r)) is not None]

    def problem(self, record: Any) -> str | None:
        if not record.request_id:
            return "empty request_id"
        for name, limit in self.strings.items():
            value = getattr(record, name, None)
            if value is not None and len(value) > limit:
                return f"{name} longer than {limit} characters"
        for name, bound in self.ints.items():
            value = getattr(record, name, None)
            if value is not None and not -bound <= value < bound:
                return f"{name} out of range"
        return None


_FIT: Final = FitCheck(traces_table)


def trace_problem(t: Trace) -> str | None:
    """Why ``t`` cannot be stored (a value too long or out of range), or None when it fits."""
    return _FIT.problem(t)


def trace_misfits(traces: Sequence[Trace]) -> list[tuple[int, str]]:
    """``(index, reason)`` of each trace in ``traces`` that cannot be stored (usually none)."""
    return _FIT.misfits(traces)


def trace_columns_fit(columns: Any) -> bool:
    """Whether every trace of a decoded column batch fits the traces table (usually: then
    nothing is looked at trace by trace)."""
    return _FIT.columns_fit(columns)


def fitting_trace_batch_decoder() -> msgspec.msgpack.Decoder[TraceBatch]:
    """A ``TraceBatch`` decoder that refuses (``ValidationError``) a batch holding a trace that
    does not fit the traces table: the recorder's fast path, the check costs next to nothing
    while decoding. A refused batch is decoded again plainly and :func:`trace_misfits` says
    which traces do not fit."""
    traces = _FIT.checked_type(Trace)
    batch = msgspec.defstruct("FittingTraceBatch", [("traces", list[traces])],  # type: ignore[valid-type]
                              bases=(TraceBatch,), kw_only=True, array_like=True)
    decoder: msgspec.msgpack.Decoder[TraceBatch] = msgspec.msgpack.Decoder(batch)
    return decoder
