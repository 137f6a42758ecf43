"""Turning raw stream entries into one write batch (decode at the edge, skip what is malformed)."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from galileo.protocol import (
    EVENT_ID_LEN,
    Event,
    EventField,
    LbTrace,
    TelemetryBatch,
    Trace,
    TraceField,
    TraceRow,
    decode_event,
    decode_lb_trace_batch,
    decode_trace_batch,
    trace_rows,
    traces_of_rows,
)
from galileo.protocol.trace_wire import column_rows, decode_trace_columns, is_row_batch
from galileo.recorder.telemetry import TELEMETRY_KIND, decode_entry
from galileo.storage.lb_traces import lb_trace_misfits
from galileo.storage.schema import EXP_ID_LEN
from galileo.storage.traces import (
    fitting_trace_batch_decoder,
    trace_columns_fit,
    trace_misfits,
)

log = logging.getLogger(__name__)

_R = TypeVar("_R", Trace, LbTrace)

_FITTING_BATCH = fitting_trace_batch_decoder()

LB_TRACES = "lb_traces"  # the kind of the ``keys.lb_traces`` stream

# (entry id, fields) as redis-py returns them; fields is empty/None for a deleted entry
RawEntry = tuple[bytes | None, dict[bytes, bytes] | None]


@dataclass
class Batch:
    """Everything decoded from one read, written in one transaction, then acknowledged."""

    traces: list[TraceRow] = field(default_factory=list)  # rows, in TRACE_COLUMNS order
    lb_traces: list[LbTrace] = field(default_factory=list)
    events: list[tuple[str, Event]] = field(default_factory=list)  # (source id, event)
    done: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    malformed: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    dropped_traces: int = 0  # well-formed batches can still hold a trace that does not fit
    telemetry: list[TelemetryBatch] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return sum(map(len, self.done.values())) + sum(map(len, self.malformed.values()))

    def add(self, kind: str, stream: str, entries: list[RawEntry]) -> None:
        """Decode ``entries`` of ``stream`` (``kind`` is ``traces`` or ``events``)."""
        for entry_id, fields in entries:
            if entry_id is None:  # deleted while pending: nothing to ack by id
                continue
            try:
                if kind == "traces":
                    self._add_traces(stream, entry_id, fields)
                elif kind == LB_TRACES:
                    self._add_lb_traces(stream, entry_id, fields)
                elif kind == TELEMETRY_KIND:
                    self.telemetry.append(decode_entry(fields))
                else:
                    self._add_event(stream, entry_id, fields)
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError,
                    ValueError, IndexError) as e:
                log.warning("skipping malformed entry %s of %s: %s",
                            _text(entry_id), stream, _reason(e))
                self.malformed[stream].append(entry_id)
                continue
            self.done[stream].append(entry_id)

    def _add_traces(self, stream: str, entry_id: bytes, fields: Any) -> None:
        """A batch in columns (straight to rows, the fit checked per column) or in rows (an
        older worker's: the fit checked while decoding)."""
        data = fields[TraceField]
        if not is_row_batch(data):
            columns = decode_trace_columns(data)
            rows = column_rows(columns)  # raises for a malformed entry
            if trace_columns_fit(columns):  # the usual case
                self.traces.extend(rows)
                return
            traces = traces_of_rows(rows)
        else:
            try:  # every trace fits, checked while decoding
                self.traces.extend(trace_rows(_FITTING_BATCH.decode(data).traces))
                return
            except msgspec.ValidationError:  # a trace that does not fit, or a malformed entry
                traces = decode_trace_batch(data).traces  # raises for a malformed entry
        fitting = self._fitting(traces, trace_misfits(traces), stream, entry_id, "")
        self.traces.extend(trace_rows(fitting))

    def _add_lb_traces(self, stream: str, entry_id: bytes, fields: Any) -> None:
        traces = decode_lb_trace_batch(fields[TraceField]).traces
        self.lb_traces.extend(self._fitting(traces, lb_trace_misfits(traces), stream, entry_id,
                                            "lb "))

    def _fitting(self, records: list[_R], misfits: list[tuple[int, str]], stream: str,
                 entry_id: bytes, what: str) -> list[_R]:
        """``records`` without the ``misfits`` (each logged and counted as dropped)."""
        if not misfits:
            return records
        for i, problem in misfits:
            log.warning("dropping %strace %r in entry %s of %s: %s", what,
                        records[i].request_id[:64], _text(entry_id), stream, problem)
        self.dropped_traces += len(misfits)
        bad = {i for i, _ in misfits}
        return [r for i, r in enumerate(records) if i not in bad]

    def _add_event(self, stream: str, entry_id: bytes, fields: Any) -> None:
        event = decode_event(fields[EventField])
        if ((event.exp_id is not None and len(event.exp_id) > EXP_ID_LEN)
                or len(event.name) > 255 or len(event.id) > EVENT_ID_LEN):
            raise msgspec.ValidationError("exp_id, name or id too long")
        try:
            json.dumps(event.data)
        except (TypeError, ValueError) as e:
            raise msgspec.ValidationError(f"data is not JSON: {e}") from None
        # one row per event id: a retried XADD may have written the same event twice
        source = f"event/{event.id}" if event.id else f"{stream}/{_text(entry_id)}"
        self.events.append((source, event))


def _text(entry_id: bytes | str) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def _reason(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"missing field {e.args[0]!r}"
    if isinstance(e, TypeError):
        return "no fields"
    return str(e)
