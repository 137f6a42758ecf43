"""The per-second timeline (pure logic on trace rows)."""

from __future__ import annotations

import math

from galileo.analysis.timeline import per_second, timeline_html

S = 1_000_000_000


def row(service: str, t_s: float, latency_ms: float, status: int = 200, error: str = "") -> dict:
    intended = int(t_s * S)
    return {"service": service, "intended_ns": intended, "sent_ns": intended,
            "done_ns": intended + int(latency_ms * 1e6), "status": status, "error": error}


def test_per_second_counts_errors_and_percentiles() -> None:
    rows = [row("echo", 0.1 * i, latency_ms=i + 1) for i in range(10)]  # second 0: 1..10 ms
    rows += [row("echo", 2.5, 5.0), row("echo", 2.6, 0, status=0, error="timeout")]
    rows += [row("classify", 0.0, 3.0, status=500)]
    series = per_second(rows)
    echo = series["echo"]
    assert [s.sent for s in echo] == [10, 0, 2]
    assert echo[0].p50_ms == 6.0 and echo[0].p99_ms == 10.0
    assert math.isnan(echo[1].p50_ms)  # nothing in second 1
    assert echo[2].errors == 1 and echo[2].p50_ms == 5.0  # the timeout has no latency
    assert series["classify"][0].errors == 1


def test_page_has_one_rate_and_one_latency_chart_per_service() -> None:
    page = timeline_html(per_second([row("echo", 0, 1), row("kv", 1, 2)]), "run <1>")
    assert page.count("<svg") == 4
    assert "run &lt;1&gt;" in page and "echo: 1 requests, 0 errors" in page
