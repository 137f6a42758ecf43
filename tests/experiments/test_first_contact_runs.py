"""Runs that must not poison the next run (issue 13): temporary routes are undone, a foreground
run without Redis leaves nothing QUEUED, ``exp submit --wait`` exits like ``galileo run``, and
a fresh API on the embedded default accepts ``POST /experiments`` as its very first request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from jobhelpers import scenario
from rich.console import Console

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.control.temporary_routes import TemporaryRoutes
from galileo.experiments.headless import _local_env, exit_code
from galileo.experiments.jobs import make_job
from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup, settings_env
from galileo.settings import Settings
from galileo.storage import ExperimentStatus


def _galileo(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "galileo", *args],
                          env=settings_env(settings, **env), capture_output=True, text=True,
                          timeout=90)


def test_temporary_routes_put_back_what_was_there(settings: Settings) -> None:
    with Galileo.from_settings(settings) as g:
        g.rtbl.set("echo", ["10.0.0.1:80", "10.0.0.2:80"], [1, 3])
        with TemporaryRoutes(g.rtbl) as routes:
            routes.set("echo", ["127.0.0.1:41000"])
            routes.set("fresh", ["127.0.0.1:41000"])
            routes.set("moved", ["127.0.0.1:41000"])
            g.rtbl.set("moved", ["10.0.0.9:80"])  # re-routed by someone else meanwhile
            assert g.rtbl.get("echo").hosts == ["127.0.0.1:41000"]  # type: ignore[union-attr]
        echo = g.rtbl.get("echo")
        assert echo is not None and (echo.hosts, echo.weights) == (
            ["10.0.0.1:80", "10.0.0.2:80"], [1.0, 3.0])
        assert g.rtbl.get("fresh") is None  # it had no record before
        assert g.rtbl.get("moved").hosts == ["10.0.0.9:80"]  # type: ignore[union-attr]


def test_galileo_run_local_env_restores_routing(settings: Settings) -> None:
    """The path ``galileo run`` takes for a scenario with ``apps: [echo]``: during the run echo
    points at the temporary app server, afterwards at what it pointed to before."""
    job = make_job(scenario={"apps": ["echo"], "duration": 1, "workloads": [
        {"service": "echo", "clients": 1, "profile": {"type": "constant", "rps": 1}}]})
    with Galileo.from_settings(settings) as g:
        g.rtbl.set("echo", ["10.1.1.1:8080"])
        with _local_env(settings, job, _quiet_console(), True, 1):
            during = g.rtbl.get("echo")
            assert during is not None and during.hosts[0].startswith("127.0.0.1:")
        after = g.rtbl.get("echo")
        assert after is not None and after.hosts == ["10.1.1.1:8080"]


def test_run_without_redis_leaves_no_queued_row(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(scenario("127.0.0.1:9", seconds=1)))
    done = _galileo(settings, "run", str(file), "--id", "no-redis",
                    galileo_redis_url="redis://127.0.0.1:1", galileo_redis_retries="0")
    assert done.returncode == 3, done.stdout + done.stderr
    said = [line for line in done.stderr.splitlines() if " DEBUG " not in line
            and " INFO " not in line]  # the child runs at galileo_log_level=DEBUG
    assert "Traceback" not in done.stderr and said == [
        "error: cannot reach Redis at 127.0.0.1:1: Error 111 connecting to 127.0.0.1:1. "
        "Connection refused."], done.stderr
    assert "starts" not in done.stdout
    with ExperimentService(settings) as svc:
        assert svc.db.get_experiment("no-redis") is None


def test_exit_codes_are_shared_by_run_and_submit() -> None:
    assert exit_code(ExperimentStatus.FINISHED, True) == 0
    assert exit_code("FINISHED", False) == 99
    assert exit_code(ExperimentStatus.FAILED, True) == 1
    assert exit_code(ExperimentStatus.CANCELLED, True) == 1


def test_submit_wait_exits_99_when_a_threshold_fails(settings: Settings, cluster: ProcessGroup,
                                                     app_host: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(scenario(app_host, rps=20, seconds=1,
                                           thresholds=["p99_ms < 0.0001"], name="bad")))
    cluster.start("runner", ["runner", "--concurrency", "1"])
    done = _galileo(settings, "exp", "submit", str(bad), "--id", "wait-bad", "--wait")
    assert done.returncode == 99, done.stdout + done.stderr
    assert "FINISHED" in done.stdout and "FAIL  [echo] p99_ms < 0.0001" in done.stdout


def test_first_request_to_a_fresh_api_can_be_post_experiments(tmp_path: Path) -> None:
    """Embedded default, nothing started yet: ``POST /experiments`` first must be accepted."""
    from fastapi.testclient import TestClient

    from galileo.web import create_app

    data_dir = tmp_path / "fresh"
    settings = Settings.from_env({"galileo_data_dir": str(data_dir),
                                  "galileo_expdb_sqlite_path": str(tmp_path / "e.sqlite")})
    assert settings.embedded_redis and not bus.embedded_redis_running(data_dir)
    try:
        with TestClient(create_app(settings)) as api:
            reply = api.post("/experiments", json={"script": "sleep 1", "name": "first"})
            assert reply.status_code in (200, 201, 202), reply.text
            assert reply.json()["status"] == "QUEUED"
    finally:
        bus.stop_embedded_redis(data_dir)


def _quiet_console() -> Console:
    return Console(quiet=True)

