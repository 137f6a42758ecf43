"""The per-policy latency split from stored lb traces (real SQLite expdb, made-up traces)."""

from __future__ import annotations

import pytest

from galileo.protocol import LbTrace
from galileo.storage import ExpDB

pytest.importorskip("pandas")


def _trace(i: int, policy: str, upstream_ms: float, overhead_ms: float, status: int = 200,
           error: str = "") -> LbTrace:
    t0 = 1_700_000_000_000_000_000 + i * 1_000_000
    sent = t0 + int(overhead_ms * 1e6 / 2)
    done_up = sent + int(upstream_ms * 1e6)
    return LbTrace(request_id=f"r{i}", exp_id="e1", lb="lb", service="svc",
                   backend="10.0.0.1:80", policy=policy, method="GET", path="/", received_ns=t0,
                   upstream_sent_ns=sent, upstream_done_ns=done_up if status else 0,
                   done_ns=done_up + int(overhead_ms * 1e6 / 2), status=status, error=error)


def test_policy_summary(sqlite_url):
    from galileo.analysis.lb import lb_frame, policy_summary

    traces = [_trace(i, "wrr", 10.0, 0.2) for i in range(100)]
    traces += [_trace(100 + i, "ewma", 2.0, 0.4) for i in range(100)]
    traces.append(_trace(999, "ewma", 0.0, 0.1, status=502, error="connect"))
    with ExpDB(sqlite_url) as db:
        with db.transaction() as tx:
            tx.insert_lb_traces(traces)
        frame = lb_frame(db, "e1")
    assert len(frame) == 201
    summary = policy_summary(frame).set_index("policy")
    assert summary.loc["wrr", "requests"] == 100 and summary.loc["ewma", "failed"] == 1
    assert summary.loc["wrr", "upstream_p99_ms"] == pytest.approx(10.0)
    assert summary.loc["ewma", "upstream_p50_ms"] == pytest.approx(2.0)
    assert summary.loc["ewma", "overhead_p99_ms"] == pytest.approx(0.4)
    assert summary.loc["wrr", "lb_p50_ms"] == pytest.approx(10.2)
