"""The recorder's fast fit checks agree with ``trace_problem`` (the reference) on every limit."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from tests.recorder.test_recorder import traces

from galileo.protocol import Trace, TraceBatch, encode
from galileo.storage.traces import _FIT, fitting_trace_batch_decoder, trace_misfits, trace_problem


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
