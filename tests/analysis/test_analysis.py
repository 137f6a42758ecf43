"""Analysis hooks on an experiment database filled with known traces and telemetry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from galileo import analysis
from galileo.errors import NotFoundError
from galileo.protocol import Event, EventKind, TelemetrySample, Trace
from galileo.storage import ExpDB

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def trace(exp: str, service: str, host: str, sent_s: float, latency_ms: float,
          status: int = 200) -> Trace:
    sent = T0 + int(sent_s * S)
    return Trace(request_id=uuid.uuid4().hex, exp_id=exp, group_id="g", client_id="c",
                 worker="w", service=service, host=host, method="GET", path="/",
                 intended_ns=sent, sent_ns=sent, done_ns=sent + int(latency_ms * 1e6),
                 status=status)


def cpu(node: str, metric: str, sub: str, values: list[float]) -> list[TelemetrySample]:
    return [TelemetrySample(node=node, metric=metric, subsystem=sub, ts_ns=T0 + i * S, value=v,
                            window_ns=S if i else 0) for i, v in enumerate(values)]


@pytest.fixture
def db(sqlite_url: str) -> Iterator[ExpDB]:
    with ExpDB(sqlite_url) as expdb:
        yield expdb


def fill(db: ExpDB, exp: str, rps: dict[str, int], latency: dict[str, float]) -> None:
    """``rps[service]`` requests per second for 4 s on host h1 (kv also on h2, twice as slow)."""
    db.create_experiment("t", exp_id=exp)
    traces = []
    for service, rate in rps.items():
        for i in range(4 * rate):
            traces.append(trace(exp, service, "h1:80", i / rate, latency[service]))
            if service == "kv":
                traces.append(trace(exp, service, "h2:80", i / rate, 2 * latency[service]))
    traces.append(trace(exp, "kv", "h1:80", 0.5, 1.0, status=503))
    db.insert_traces(traces)
    db.insert_events([Event(kind=EventKind.EXPERIMENT_START, ts_ns=T0, exp_id=exp)])
    store = db
    store.insert_telemetry(exp, cpu("n1", "proc_cpu", "kv", [0, 50, 50, 50, 50]))
    store.insert_telemetry(exp, cpu("n1", "cgrp_cpu", "checksum", [0, 100, 100, 100, 100]))
    store.insert_telemetry(exp, cpu("h1", "cpu", "", [10, 20, 30])
                           + cpu("h2", "cpu", "", [50, 60, 70]))


def test_load_gives_typed_time_indexed_frames(db: ExpDB) -> None:
    fill(db, "e1", {"kv": 10, "checksum": 5}, {"kv": 2.0, "checksum": 10.0})
    data = analysis.load("e1", db=db)
    assert len(data.traces) == 4 * 10 * 2 + 4 * 5 + 1
    assert isinstance(data.traces.index, pd.DatetimeIndex) and str(data.traces.index.tz) == "UTC"
    assert data.traces.index.is_monotonic_increasing
    assert data.traces["sent_ns"].dtype == np.int64
    assert isinstance(data.traces["service"].dtype, pd.CategoricalDtype)
    assert data.traces.index[0] == pd.Timestamp(T0, unit="ns", tz="UTC")
    assert data.telemetry["value"].dtype == np.float64
    assert isinstance(data.telemetry.index, pd.DatetimeIndex)
    assert list(data.events["kind"]) == ["experiment_start"]
    with pytest.raises(NotFoundError):
        analysis.load("nope", db=db)


def test_the_four_questions(db: ExpDB) -> None:
    fill(db, "co", {"kv": 10, "checksum": 5}, {"kv": 2.0, "checksum": 10.0})
    fill(db, "solo", {"kv": 20, "checksum": 10}, {"kv": 1.0, "checksum": 5.0})
    data = analysis.load("co", db=db)
    per_request = analysis.cpu_per_request(data)
    # kv: 0.5 core for 4 s = 2 CPU s over the 2 × 40 OK requests completed in (T0, T0 + 4 s]
    assert per_request.loc["kv", "cpu_s"] == pytest.approx(2.0)
    assert per_request.loc["checksum", "cpu_s"] == pytest.approx(4.0)
    assert per_request.loc["kv", "mean_cpu_percent"] == pytest.approx(50.0)
    assert per_request.loc["kv", "requests"] == 80
    assert per_request.loc["kv", "cpu_ms_per_request"] == pytest.approx(2000.0 / 80)
    assert per_request.loc["checksum", "cpu_ms_per_request"] == pytest.approx(
        4000.0 / per_request.loc["checksum", "requests"])
    by_node = analysis.latency_by_node(data, "kv")
    assert by_node.loc["h1:80", "p50_ms"] == pytest.approx(2.0)
    assert by_node.loc["h2:80", "p99_ms"] == pytest.approx(4.0)
    assert by_node.loc["h1:80", "errors"] == 1 and by_node.loc["h2:80", "errors"] == 0
    diff = analysis.compare_nodes(data, "kv", "h1:80", "h2:80")
    assert diff.loc["mean_ms", "difference"] == pytest.approx(2.0)
    assert diff.loc["mean_ms", "ratio"] == pytest.approx(2.0)
    assert diff.loc["node_cpu_percent", "a"] == pytest.approx(20.0)
    assert diff.loc["node_cpu_percent", "b"] == pytest.approx(60.0)
    with pytest.raises(NotFoundError):
        analysis.compare_nodes(data, "kv", "h1:80", "h9:80")
    impact = analysis.colocation_impact(analysis.load("solo", db=db), data)
    assert impact.loc["checksum", "normalized"] == pytest.approx(0.5, rel=0.05)
    assert impact.loc["checksum", "p99_ratio"] == pytest.approx(2.0)
    assert set(impact.index) == {"kv", "checksum"}


def test_profile_table_reads_metis_files(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "p.npz"
    alloc = np.zeros((2, 9))
    alloc[0, 0], alloc[1, [0, 2]] = 1, 1
    rps = np.where(alloc > 0, np.array([[1.0] * 9, [0.8] * 9]), np.nan)
    np.savez(path, alloc=alloc, rps=rps, rt_50=rps.astype(object), rt_99=rps.astype(object))
    table = analysis.profile_table(path, ["kv", "classify", "checksum"] + ["x"] * 6)
    assert list(table.columns) == ["n_kv", "n_checksum", "rps_kv", "rps_checksum"]
    assert table.loc[1, "rps_checksum"] == pytest.approx(0.8)
