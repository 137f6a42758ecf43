"""The recorder's fast fit checks agree with ``trace_problem`` (the reference) on every limit,
for batches in columns (what workers send) and in rows (what older workers sent)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from tests.recorder.test_recorder import traces

from galileo.protocol import Trace, TraceBatch, TraceField, encode, encode_trace_batch, trace_rows
from galileo.protocol.trace_wire import decode_trace_columns
from galileo.recorder._entries import Batch
from galileo.storage.traces import (
    _FIT,
    fitting_trace_batch_decoder,
    trace_columns_fit,
    trace_misfits,
    trace_problem,
)


def _variants() -> list[dict[str, Any]]:
    """One change per limit: just inside it and just past it, per column of the table."""
    out: list[dict[str, Any]] = [{"request_id": ""}, {"exp_id": None}]
    for name, limit in _FIT.strings.items():
        out += [{name: "x" * limit}, {name: "x" * (limit + 1)}]
    for name, bound in _FIT.ints.items():
        out += [{name: bound - 1}, {name: bound}, {name: -bound}]
        if bound < 2**63:  # below -2**63 msgpack has no integer: no worker can send it
            out.append({name: -bound - 1})
    return out


@pytest.mark.parametrize("change", _variants(), ids=lambda c: f"{next(iter(c))}")
def test_fast_checks_refuse_exactly_what_trace_problem_refuses(change: dict[str, Any]) -> None:
    good = traces(3)
    odd = msgspec.structs.replace(good[1], **change)
    batch = [good[0], odd, good[2]]
    problem = trace_problem(odd)
    assert trace_misfits(batch) == ([] if problem is None else [(1, problem)])
    data = encode(TraceBatch(worker="w1", traces=batch))
    if problem is None:
        decoded = fitting_trace_batch_decoder().decode(data).traces
        assert [msgspec.structs.astuple(t) for t in decoded] == [
            msgspec.structs.astuple(t) for t in batch]
        assert all(isinstance(t, Trace) for t in decoded)
    else:
        with pytest.raises(msgspec.ValidationError):
            fitting_trace_batch_decoder().decode(data)


@pytest.mark.parametrize("change", _variants(), ids=lambda c: f"{next(iter(c))}")
@pytest.mark.parametrize("form", ["columns", "rows"])
def test_the_recorder_keeps_exactly_the_traces_that_fit(change: dict[str, Any],
                                                       form: str) -> None:
    good = traces(3)
    odd = msgspec.structs.replace(good[1], **change)
    batch = [good[0], odd, good[2]]
    problem = trace_problem(odd)
    data = (encode_trace_batch("w1", batch) if form == "columns"
            else encode(TraceBatch(worker="w1", traces=batch)))
    if form == "columns":
        assert trace_columns_fit(decode_trace_columns(data)) == (problem is None)
    decoded = Batch()
    decoded.add("traces", "s", [(b"1-0", {TraceField: data})])
    kept = batch if problem is None else [good[0], good[2]]
    assert decoded.traces == trace_rows(kept)
    assert decoded.dropped_traces == (problem is not None)
    assert not decoded.malformed and decoded.done == {"s": [b"1-0"]}


def test_a_long_string_in_a_column_with_room_for_it_is_kept() -> None:
    """The column check looks per column only once a string is longer than the shortest
    limit: a long path must not count against the short experiment id."""
    batch = traces(4, exp_id="e1")
    batch[2].path = "/" + "p" * (_FIT.strings["path"] - 1)
    assert _FIT.strings["path"] > _FIT.strings["exp_id"]
    columns = decode_trace_columns(encode_trace_batch("w1", batch))
    assert trace_columns_fit(columns)
