"""Reports: aggregation against exact numpy values, bootstrap comparison verdicts, the HTML
file (self-contained), PNGs and the ``galileo report`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from galileo.analysis.report import compare_runs, hist, load_run, render_report, write_report
from galileo.errors import NotFoundError
from galileo.storage import ExpDB
from reportdata import make_run


@pytest.fixture
def db(tmp_path: Path):
    with ExpDB(f"sqlite:///{tmp_path / 'r.sqlite'}") as d:
        yield d


def test_histogram_percentiles_within_one_bucket() -> None:
    rng = np.random.default_rng(3)
    lat = rng.lognormal(1.0, 1.0, 50_000)
    h = hist.histograms(np.zeros(lat.size, np.int64), 1, lat)[0]
    for p in (50, 90, 99, 99.9):
        exact = np.percentile(lat, p, method="inverted_cdf")
        assert abs(hist.percentile(h, p) / exact - 1) < 0.024, p


def test_run_aggregates_per_second_worker_host_and_errors(db: ExpDB) -> None:
    lat = make_run(db, "run-a", seconds=10, rps=100, error_every=10)
    run = load_run(db, "run-a")
    (echo,) = run.services
    assert run.seconds == 10 and echo.sent.tolist() == [100] * 10
    assert echo.errors.sum() == 100 and run.error_count == 100
    p99 = echo.percentile_series()[:, 2]
    for sec in range(10):
        exact = np.percentile(lat[sec * 100:(sec + 1) * 100], 99, method="inverted_cdf")
        assert abs(p99[sec] / exact - 1) < 0.024
    assert run.workers.names == ["w0", "w1"] and run.workers.requests.tolist() == [500, 500]
    assert run.hosts.names == ["h0:80", "h1:80", "h2:80"]
    assert run.errors_by_kind == [{"service": "echo", "kind": "HTTP 500", "count": 100}]
    assert run.services[0].target[-1] == (0.0, 100.0)  # from the group_spawn event
    assert any(e["kind"] == "routing_set" for e in run.events)


def test_comparison_finds_a_real_difference_and_none_where_there_is_none(db: ExpDB) -> None:
    make_run(db, "a", seconds=40, rps=100, scale_ms=5.0, seed=1)
    make_run(db, "b", seconds=40, rps=100, scale_ms=6.0, seed=2)  # every latency x1.2
    make_run(db, "c", seconds=40, rps=100, scale_ms=5.0, seed=3)
    a, b, c = (load_run(db, x) for x in "abc")
    p99 = next(d for d in compare_runs(a, b) if d.metric == "p99")
    assert p99.significant and p99.low is not None and p99.high is not None
    assert p99.low < 0.2 < p99.high + 0.05  # the true +20 % lies in (or at) the interval
    assert p99.verdict("b").startswith("p99 is ") and "% higher in b" in p99.verdict("b")
    same = next(d for d in compare_runs(a, c) if d.metric == "p50")
    assert not same.significant and "no clear difference" in same.verdict("c")


def test_report_is_self_contained_and_says_when_there_are_no_traces(db: ExpDB,
                                                                     tmp_path: Path) -> None:
    make_run(db, "full", seconds=5, rps=50)
    db.create_experiment("empty one", exp_id="empty")
    html = render_report([load_run(db, "full"), load_run(db, "empty")])
    assert "<script src" not in html and "<link " not in html  # nothing fetched
    assert "Plotly.newPlot" in html and "plotly.js" in html.lower()
    assert "This run recorded no traces" in html
    assert "% higher in" in html or "no clear difference" in html or "not comparable" in html
    out, pngs = write_report(db, ["full"], tmp_path / "r" / "x.html", tmp_path / "png")
    assert out.read_text().startswith("<!doctype html>")
    assert {p.name for p in pngs} >= {"full-rate.png", "full-latency.png", "full-spectrum.png"}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_unknown_run(db: ExpDB) -> None:
    with pytest.raises(NotFoundError, match="unknown experiment 'nope'"):
        load_run(db, "nope")


def test_cli_writes_report_and_rejects_unknown_ids(tmp_path: Path) -> None:
    sqlite = tmp_path / "cli.sqlite"
    with ExpDB(f"sqlite:///{sqlite}") as d:
        make_run(d, "one", seconds=3, rps=20)
    env = {**os.environ, "galileo_expdb_sqlite_path": str(sqlite),
           "galileo_data_dir": str(tmp_path)}
    cmd = [sys.executable, "-m", "galileo", "report"]
    ok = subprocess.run([*cmd, "one", "-o", str(tmp_path / "o.html")], env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "o.html").stat().st_size > 1_000_000  # plotly.js inlined
    bad = subprocess.run([*cmd, "one", "missing", "-o", str(tmp_path / "m.html")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown experiment 'missing'" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "m.html").exists()


def test_the_same_aggregates_on_every_backend(expdb_url: str) -> None:
    """The SQL (floor division, CASE codes, raw cursor) runs on SQLite, MariaDB, PostgreSQL."""
    import uuid

    from galileo.storage.schema import EXPERIMENT_TABLES, experiments

    exp_id = "rep-" + uuid.uuid4().hex[:8]
    with ExpDB(expdb_url) as d:
        try:
            lat = make_run(d, exp_id, seconds=3, rps=40, error_every=8,
                           services=("echo", "kv"))
            run = load_run(d, exp_id)
            assert [s.service for s in run.services] == ["echo", "kv"]
            assert run.seconds == 3 and run.requests == 240 and run.error_count == 30
            assert run.workers.requests.tolist() == [120, 120]
            exact = np.percentile(lat, 99, method="inverted_cdf")
            assert abs(hist.percentile(run.total_hist, 99) / exact - 1) < 0.02
        finally:
            with d.engine.begin() as conn:
                for table in EXPERIMENT_TABLES:
                    conn.execute(table.delete().where(table.c.exp_id == exp_id))
                conn.execute(experiments.delete().where(experiments.c.id == exp_id))
