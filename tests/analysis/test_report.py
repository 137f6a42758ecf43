"""Reports: aggregation against exact numpy values, bootstrap comparison verdicts, the HTML
file (self-contained), PNGs and the ``galileo report`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from galileo.analysis.counts import (
    Outcome,
    RequestCounts,
    request_counts,
    run_outcome,
    unsent_per_second,
)
from galileo.analysis.report import compare_runs, hist, load_run, render_report, write_report
from galileo.analysis.report.figures import ERROR_COLOUR, event_layer, rate_figure, run_figures
from galileo.analysis.report.html import summary
from galileo.analysis.report.runs import _targets, run_totals
from galileo.errors import NotFoundError
from galileo.experiments.thresholds import Observed
from galileo.storage import ExpDB, jobs
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
            listed = run_totals(d, [exp_id])[exp_id]  # the experiments page
            assert run.totals["counts"] == listed["counts"] == RequestCounts(240, 240, 30)
            assert run.totals["p99_ms"] == listed["p99_ms"]  # one p99: SQL probe == numpy
            seen = Observed(*jobs.trace_summary(d, exp_id)[:3], duration_s=3, target_rps=80)
            assert seen.metric("p99_ms") == listed["p99_ms"]  # ... == a threshold's p99
            assert unsent_per_second(d, exp_id, run.t0_ns, 3, ["echo"])["echo"].sum() == 0
            assert run.workers.requests.tolist() == [120, 120]
            exact = np.percentile(lat, 99, method="inverted_cdf")
            assert abs(hist.percentile(run.total_hist, 99) / exact - 1) < 0.02
        finally:
            with d.engine.begin() as conn:
                for table in EXPERIMENT_TABLES:
                    conn.execute(table.delete().where(table.c.exp_id == exp_id))
                conn.execute(experiments.delete().where(experiments.c.id == exp_id))


def test_sent_and_failed_mean_the_same_in_the_list_the_report_and_exp_show(
        db: ExpDB, tmp_path: Path) -> None:
    """One definition (galileo.analysis.counts): 1 request in 4 never left the worker
    (no_route); every 10th answered 500 unless it was one of those (8 of them)."""
    make_run(db, "mixed", seconds=4, rps=40, error_every=10, unsent_every=4)
    counts = request_counts(db, ["mixed"])["mixed"]
    assert counts == RequestCounts(requests=160, sent=120, failed=40 + 8)
    listed = run_totals(db, ["mixed"])["mixed"]  # the experiments page
    run = load_run(db, "mixed")
    s = summary(run)  # the run page and the report
    assert (listed["requests"], listed["sent"], listed["errors"]) == (160, 120, 48)
    assert (s["requests"], s["sent"], s["errors"]) == (160, 120, 48)
    assert s["p99_ms"] == listed["p99_ms"] and s["p99_exact"]
    rate = {t["name"]: t for t in rate_figure(run)["data"]}
    assert sum(rate["echo sent/s"]["y"]) == 120  # drawn: only what left the worker
    assert sum(rate["echo errors/s"]["y"]) == 48
    assert rate["echo errors/s"]["line"]["color"] == ERROR_COLOUR
    env = {**os.environ, "galileo_expdb_sqlite_path": str(db.engine.url.database),
           "galileo_data_dir": str(tmp_path)}
    shown = subprocess.run([sys.executable, "-m", "galileo", "exp", "show", "mixed"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "160 requests, 120 sent, 48 failed (30.00 %)" in shown.stdout


def test_a_run_whose_requests_all_failed_is_failed_with_no_empty_axes(db: ExpDB) -> None:
    make_run(db, "dead", seconds=3, rps=20, unsent_every=1)  # every request: no_route
    run = load_run(db, "dead")
    s = summary(run)
    assert s["status"] == "FINISHED" and s["shown_status"] == "FAILED"
    assert s["failed_reason"] == "all 60 requests failed" and s["error_rate"] == 1.0
    html = render_report([run])
    assert 'data-status="FAILED"' in html and "no successful responses" in html
    figures = dict(run_figures(run))
    assert figures["latency"]["data"] == [] and figures["latency"]["empty"]


def test_pause_drops_the_target_and_simultaneous_events_share_one_marker() -> None:
    s, t0 = 1_000_000_000, 0
    events = [{"kind": "group_spawn", "ts_ns": 0, "name": "g1", "data": {"service": "api",
                                                                       "rps": 40}},
              {"kind": "group_pause", "ts_ns": 5 * s, "name": "g1", "data": {"service": "api"}},
              {"kind": "group_resume", "ts_ns": 8 * s, "name": "g1",
               "data": {"service": "api"}}]
    points = _targets(events, t0)["api"]
    assert points == [(0.0, 0.0), (0.0, 40.0), (5.0, 40.0), (5.0, 0.0), (8.0, 0.0),
                      (8.0, 40.0)]
    marks = [{"t_s": 0.0, "text": "api: started at 40/s", "name": "g1"},
             {"t_s": 0.1, "text": "db: started at 5/s", "name": "g2"},
             {"t_s": 5.0, "text": "api: paused", "name": "g1"}]
    (trace,), extra = event_layer(marks, span_s=10)
    assert trace["x"] == [0.0, 5.0] and len(extra["shapes"]) == 2
    assert "api: started" in trace["text"][0] and "db: started" in trace["text"][0]
    assert "(g2)" in trace["text"][0]  # the group id, in the hover only


def test_report_file_is_light_and_has_no_cloud_link(db: ExpDB) -> None:
    make_run(db, "a", seconds=20, rps=50)
    make_run(db, "b", seconds=20, rps=50, seed=2)
    html = render_report([load_run(db, "a"), load_run(db, "b")])
    assert len(html.encode()) <= 1_500_000, len(html.encode())
    assert '"showSendToCloud":false' in html and '"displaylogo":false' in html
    assert "plot.ly" not in html.split("</script>", 1)[1]  # no link outside plotly.js itself


def test_outcome_is_failed_when_every_request_or_a_threshold_failed() -> None:
    ok, dead = RequestCounts(100, 100, 3), RequestCounts(50, 0, 50)
    assert run_outcome("FINISHED", ok, None) == Outcome("FINISHED")
    assert run_outcome("FINISHED", ok, True) == Outcome("FINISHED")
    assert run_outcome("FINISHED", ok, False) == Outcome("FAILED", "a threshold failed")
    assert run_outcome("FINISHED", dead, True) == Outcome("FAILED", "all 50 requests failed")
    assert run_outcome("CANCELLED", RequestCounts(), None) == Outcome("CANCELLED")
    assert run_outcome("RUNNING", dead, None).status == "RUNNING"  # still running, but says so
    assert "every request so far failed" in run_outcome("RUNNING", dead, None).reason
