"""Trace batches on the wire: columns with a string table round-trip every value exactly, are
smaller than rows, and rows (what older workers sent) are still read."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from galileo.protocol import (
    Trace,
    TraceBatch,
    decode_trace_batch,
    encode,
    encode_trace_batch,
    trace_rows,
)
from galileo.protocol.trace_wire import (
    INDEXED_FIELDS,
    TRACE_FIELDS,
    column_rows,
    decode_trace_columns,
    is_row_batch,
)

T0 = 1_790_000_000_123_456_789


def _trace(i: int, **change: object) -> Trace:
    t = Trace(request_id=uuid.uuid4().hex, exp_id="202612071600-ab12", group_id=f"g{i % 2}",
              client_id=f"c{i % 25}", worker="worker-03", service=("api", "db")[i % 2],
              host=f"10.0.{i % 3}.7:8080", method="GET", path=f"/item/{i % 50}",
              intended_ns=T0 + i * 500_000, sent_ns=T0 + i * 500_000 + 41,
              done_ns=T0 + i * 500_000 + 1_250_000, status=200, bytes_received=512)
    return msgspec.structs.replace(t, **change)


BATCHES = {
    "empty": [],
    "one": [_trace(0)],
    "typical": [_trace(i) for i in range(500)],
    "mixed": [_trace(0, exp_id=None), _trace(1), _trace(2, error="timeout", status=0),
              _trace(3, path="/ünïcödé/😀", host=""), _trace(4, exp_id=None, error="x" * 300),
              _trace(5, intended_ns=0, sent_ns=2**63 - 1, done_ns=-(2**63), status=-1)],
}


@pytest.mark.parametrize("name", BATCHES)
def test_columns_round_trip_every_value(name: str) -> None:
    batch = BATCHES[name]
    data = encode_trace_batch("worker-03", batch)
    assert not is_row_batch(data)
    decoded = decode_trace_batch(data)
    assert decoded.worker == "worker-03" and decoded.traces == batch
    rows = column_rows(decode_trace_columns(data))  # the recorder's path
    assert rows == trace_rows(batch)
    assert all(len(row) == len(TRACE_FIELDS) for row in rows)


@pytest.mark.parametrize("name", BATCHES)
def test_rows_from_an_older_worker_are_read_the_same(name: str) -> None:
    batch = BATCHES[name]
    data = encode(TraceBatch(worker="worker-03", traces=batch))
    assert is_row_batch(data)
    assert decode_trace_batch(data).traces == batch


def test_a_typical_batch_is_much_smaller_in_columns() -> None:
    """What the traces stream holds in Redis: columns at most 60 % of rows for a batch of one
    experiment's traces (repeated names, distinct request ids and times)."""
    batch = BATCHES["typical"]
    rows = len(encode(TraceBatch(worker="worker-03", traces=batch)))
    columns = len(encode_trace_batch("worker-03", batch))
    assert columns <= 0.6 * rows, (columns, rows)


def test_each_distinct_string_is_sent_once() -> None:
    batch = BATCHES["typical"]
    raw = msgspec.msgpack.decode(encode_trace_batch("worker-03", batch))
    strings = raw[2]
    assert len(strings) == len(set(strings))
    distinct = {getattr(t, name) for t in batch for name in INDEXED_FIELDS}
    assert set(strings) == distinct
