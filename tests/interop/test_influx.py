"""InfluxDB as the runtime store (`galileo_expdb_driver=mixed`) against a real influxd 1.x, read
back with its own query API: the line protocol, the recorder path (nothing lost while InfluxDB is
down, nothing stored twice), the export to a line-protocol file, and the one-line errors."""

from __future__ import annotations

import math
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Influx  # tests/interop/conftest.py
from galileo.errors import StorageError
from galileo.protocol import Keys, TelemetrySample, Trace, TraceBatch, TraceField, encode
from galileo.recorder import Recorder
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.storage.influx import (
    InfluxError,
    InfluxRuntimeStore,
    InfluxV1Writer,
    telemetry_line,
    telemetry_lines,
    trace_line,
)

T0 = 1_700_000_000_000_000_000


def _traces(n: int, exp_id: str | None, base: int = T0) -> list[Trace]:
    return [Trace(request_id=uuid.uuid4().hex, exp_id=exp_id, group_id="g1", client_id=f"c{i % 4}",
                  worker="w1", service="echo", host="10.0.0.5:8080", method="POST",
                  path="/echo", intended_ns=base + i * 1000, sent_ns=base + i * 1000 + 7,
                  done_ns=base + i * 1000 + 2_000_007, status=200 if i % 10 else 503,
                  error="" if i % 10 else "http_503", bytes_received=64) for i in range(n)]


# ------------------------------------------------------------------ line protocol (pure)
def test_trace_line_is_exact_line_protocol() -> None:
    t = Trace(request_id="r1", exp_id=None, group_id="g 1", client_id="c,1", worker="w=1",
              service="echo", host="h:80", method="GET", path='/a "b"\\c', intended_ns=10,
              sent_ns=15, done_ns=1_000_010, status=0, error="connect")
    assert trace_line(t) == (
        'galileo_trace,exp_id=none,service=echo,worker=w\\=1,host=h:80,group_id=g\\ 1,'
        'client_id=c\\,1,method=GET request_id="r1",path="/a \\"b\\"\\\\c",'
        'intended_ns=10i,sent_ns=15i,done_ns=1000010i,status=0i,error="connect",'
        'bytes_received=0i,latency_ms=1.0,failed=true 15')


def test_telemetry_line_and_non_finite_values() -> None:
    s = TelemetrySample(node="pico1", metric="cpu", subsystem="", ts_ns=5, value=12.5,
                        window_ns=1_000_000_000)
    assert telemetry_line("e1", s) == (
        "galileo_telemetry,exp_id=e1,node=pico1,metric=cpu value=12.5,window_ns=1000000000i 5")
    bad = TelemetrySample(node="pico1", metric="cpu", subsystem="", ts_ns=6, value=math.nan)
    assert telemetry_lines([("e1", s), ("e1", bad)]) == [telemetry_line("e1", s)]


# ------------------------------------------------------------------ against influxd
def _create_db(influx: Influx, db: str) -> None:
    body = f"q=CREATE DATABASE {db}".encode()
    urllib.request.urlopen(urllib.request.Request(f"{influx.url}/query", body), timeout=10)


@pytest.fixture
def db_name(influx: Influx) -> str:
    name = "g" + uuid.uuid4().hex[:10]
    _create_db(influx, name)
    return name


@pytest.fixture
def mixed_settings(settings: Settings, influx: Influx, db_name: str,
                   tmp_path: Path) -> Settings:
    return settings.model_copy(update={
        "expdb_driver": "mixed", "expdb_url": f"sqlite:///{tmp_path / 'meta.sqlite'}",
        "expdb_influxdb_url": influx.url, "expdb_influxdb_db": db_name,
        "expdb_influxdb_timeout": 2000})


def _rows(influx: Influx, db: str, exp_id: str) -> list[dict[str, Any]]:
    return influx.query(f"SELECT * FROM galileo_trace WHERE exp_id = '{exp_id}'", db)


def test_traces_round_trip_and_replays_are_stored_once(influx: Influx, db_name: str,
                                                        sqlite_url: str) -> None:
    store = InfluxRuntimeStore(InfluxV1Writer(influx.url, db_name))
    sent = _traces(200, "e1") + _traces(5, None, base=T0 + 10**9)
    with ExpDB(sqlite_url, runtime=store) as db:
        with db.transaction() as tx:
            assert tx.insert_traces(sent) == 205
        with db.transaction() as tx:  # a reclaimed batch is written again
            tx.insert_traces(sent[:50])
        rows = _rows(influx, db_name, "e1")
        assert len(rows) == 200
        by_id = {r["request_id"]: r for r in rows}
        for t in sent[:200]:
            row = by_id[t.request_id]
            assert (row["time"], row["sent_ns"], row["intended_ns"], row["done_ns"]) == (
                t.sent_ns, t.sent_ns, t.intended_ns, t.done_ns)
            assert (row["status"], row["error"], row["client_id"], row["path"]) == (
                t.status, t.error, t.client_id, t.path)
            assert row["failed"] is (t.status != 200)
        assert len(influx.query("SELECT * FROM galileo_trace WHERE exp_id = 'none'",
                                db_name)) == 5
        # Galileo reads them back as the SQL rows would be
        back = db.traces("e1")
        assert [r["request_id"] for r in back] == [t.request_id for t in sent[:200]]
        assert db.count_traces("e1") == 200
        assert {r["exp_id"] for r in db.traces(None)} == {"e1", None}


def test_telemetry_goes_to_influx(influx: Influx, db_name: str, sqlite_url: str) -> None:
    store = InfluxRuntimeStore(InfluxV1Writer(influx.url, db_name))
    samples = [TelemetrySample(node="pico1", metric="cpu", subsystem=str(c), ts_ns=T0 + i,
                               value=float(i), window_ns=10) for i in range(3) for c in range(2)]
    with ExpDB(sqlite_url, runtime=store) as db:
        assert db.insert_telemetry("e2", samples) == 6
        assert db.insert_telemetry("e2", samples) == 6  # replayed: still 6 points
        rows = influx.query("SELECT * FROM galileo_telemetry WHERE exp_id = 'e2'", db_name)
        assert len(rows) == 6
        assert db.count_telemetry("e2") == 6
        assert {(r["subsystem"], r["value"]) for r in db.telemetry("e2")} == {
            (str(c), float(i)) for i in range(3) for c in range(2)}


@pytest.fixture
def recorder(mixed_settings: Settings) -> Iterator[Recorder]:
    with Recorder(mixed_settings, consumer="r-influx", read_count=5) as rec:
        yield rec


def test_recorder_keeps_entries_while_influx_is_down(
        influx: Influx, mixed_settings: Settings, db_name: str, recorder: Recorder) -> None:
    from galileo import bus

    client = bus.connect(mixed_settings)
    keys = Keys(mixed_settings.namespace)
    batches = [_traces(40, "e3", base=T0 + k * 10**8) for k in range(6)]
    try:
        for batch in batches[:3]:
            client.xadd(keys.traces, {TraceField: encode(TraceBatch(worker="w1", traces=batch))})
        assert recorder.drain() == 3
        assert len(_rows(influx, db_name, "e3")) == 120

        influx.stop()
        for batch in batches[3:]:
            client.xadd(keys.traces, {TraceField: encode(TraceBatch(worker="w1", traces=batch))})
        with pytest.raises(StorageError, match="unreachable"):
            recorder.drain()
        influx.start()
        recorder.drain()
        rows = _rows(influx, db_name, "e3")
        assert len(rows) == 240  # nothing lost, nothing twice
        assert len({r["request_id"] for r in rows}) == 240
    finally:
        client.close()
        if influx.proc is None:
            influx.start()


def test_export_as_line_protocol_loads_into_influx(influx: Influx, db_name: str,
                                                   settings: Settings, tmp_path: Path) -> None:
    with ExpDB.from_settings(settings) as db:
        db.create_experiment(name="lp", exp_id="exp-lp")
        db.insert_traces(_traces(30, "exp-lp"))
        db.insert_telemetry("exp-lp", [TelemetrySample(node="n1", metric="ram", subsystem="",
                                                       ts_ns=T0 + i, value=1.5) for i in range(4)])
    out = tmp_path / "exp-lp.lp"
    env = {"PATH": "/usr/bin:/bin", "galileo_redis_url": settings.redis_connection_url(),
           "galileo_namespace": settings.namespace,
           "galileo_expdb_sqlite_path": str(settings.expdb_sqlite_path),
           "galileo_data_dir": str(settings.data_dir)}
    done = subprocess.run([sys.executable, "-m", "galileo.cli.main", "exp", "export", "exp-lp",
                           "--format", "influx-lp", "-o", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 34
    request = urllib.request.Request(f"{influx.url}/write?db={db_name}&precision=ns",
                                     "\n".join(lines).encode())
    urllib.request.urlopen(request, timeout=10)
    assert len(_rows(influx, db_name, "exp-lp")) == 30
    assert len(influx.query("SELECT * FROM galileo_telemetry WHERE exp_id = 'exp-lp'",
                            db_name)) == 4


def test_errors_name_the_endpoint_and_the_problem(influx: Influx) -> None:
    missing = InfluxV1Writer(influx.url, "no_such_db")
    with pytest.raises(InfluxError, match=r"has no database 'no_such_db' \(create it first\)"):
        missing.write(["m v=1 1"])
    down = InfluxV1Writer("http://127.0.0.1:1", "galileo", timeout_ms=500)
    with pytest.raises(InfluxError, match=r"InfluxDB at http://127.0.0.1:1 unreachable"):
        down.write(["m v=1 1"])


def test_purging_an_experiment_deletes_its_points(influx: Influx, db_name: str,
                                                  sqlite_url: str) -> None:
    store = InfluxRuntimeStore(InfluxV1Writer(influx.url, db_name))
    with ExpDB(sqlite_url, runtime=store) as db:
        for exp in ("gone", "kept"):
            db.create_experiment(name=exp, exp_id=exp)
            db.insert_traces(_traces(10, exp, base=T0 + (exp == "kept") * 10**9))
            db.insert_telemetry(exp, [TelemetrySample(node="n", metric="cpu", subsystem="",
                                                      ts_ns=T0 + 1, value=1.0)])
        db.trash_experiment("gone")
        assert len(_rows(influx, db_name, "gone")) == 10  # the trash keeps everything
        assert db.purge_experiment("gone")
        assert _rows(influx, db_name, "gone") == []
        assert influx.query("SELECT * FROM galileo_telemetry WHERE exp_id = 'gone'",
                            db_name) == []
        assert len(_rows(influx, db_name, "kept")) == 10
