"""The issue's "done when": submit the example scenario three ways -- the CLI (``galileo exp
submit … --wait``), REST over a real socket (``galileo api``), and the real ``galileo
grpc-client`` command against a gRPC server -- and see each FINISH with its traces.

Real parts only: the test Redis as broker and bus, a ``galileo runner`` subprocess, a worker
and a recorder (subprocesses, ``cluster`` fixture), the built-in echo app, SQLite expdb."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jobhelpers import galileo as run_galileo
from jobhelpers import until

from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup, free_port, wait_for_port
from galileo.storage import ExperimentStatus


def short_example(app_host: str) -> str:
    """``examples/scenario-echo.yaml`` cut to 2 s, routed to the test's echo app."""
    return f"""\
name: echo-ramp-short
routing:
  echo: {{hosts: ["{app_host}"]}}
duration: 2
drain_s: 0.5
workloads:
  - name: echo
    service: echo
    clients: 2
    request: {{method: POST, path: /echo, body: hello}}
    arrival: poisson
    profile:
      type: stages
      stages:
        - {{duration: 1, rps: 20}}
        - {{duration: 1, rps: 40, ramp: 0.5}}
    thresholds:
      - p99_ms < 1000
thresholds:
  - error_rate < 0.01
"""


@pytest.fixture
def scenario_file(tmp_path: Path, app_host: str) -> Path:
    path = tmp_path / "scenario-echo-short.yaml"
    path.write_text(short_example(app_host))
    return path


@pytest.fixture
def runner(cluster: ProcessGroup) -> ProcessGroup:
    """A real ``galileo runner`` subprocess beside the cluster's worker and recorder."""
    cluster.start("runner", ["runner", "--concurrency", "1", "--name", "three-ways"])
    return cluster


def galileo(service: ExperimentService, *args: str) -> subprocess.CompletedProcess[str]:
    return run_galileo(service.settings, *args)


def assert_finished_with_traces(service: ExperimentService, exp_id: str) -> None:
    exp = service.get(exp_id)
    assert exp.status == ExperimentStatus.FINISHED, (exp.status, exp.status_message)
    assert "2/2 thresholds passed" in (exp.status_message or "")
    traces = service.db.traces(exp_id)
    assert 30 <= len(traces) <= 80, len(traces)  # ~20/s then ramping to 40/s for 2 s
    assert {t["exp_id"] for t in traces} == {exp_id}


# ---------------------------------------------------------------------- 1. CLI
def test_cli_submit_wait(service: ExperimentService, runner: ProcessGroup,
                         scenario_file: Path) -> None:
    done = galileo(service, "exp", "submit", str(scenario_file), "--id", "cli-1", "--wait")
    assert done.returncode == 0, done.stderr
    assert "experiment cli-1 queued" in done.stdout
    lines = done.stdout.strip().splitlines()
    final = [line for line in lines if "in state FINISHED" in line]
    assert final and "2/2 thresholds passed" in final[-1], done.stdout
    verdicts = lines[lines.index(final[-1]) + 1:]  # one line per threshold after the status
    assert len(verdicts) == 2 and all(v.startswith("PASS") for v in verdicts), done.stdout
    assert_finished_with_traces(service, "cli-1")


# ---------------------------------------------------------------------- 2. REST
@pytest.fixture
def api_url(service: ExperimentService, runner: ProcessGroup) -> Iterator[str]:
    """``galileo api`` (uvicorn) as a subprocess on a free port."""
    port = free_port()
    runner.start("api", ["api", "--host", "127.0.0.1", "--port", str(port)])
    wait_for_port("127.0.0.1", port, timeout_s=60)
    yield f"http://127.0.0.1:{port}"
    runner.stop("api")


def http(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_rest_post_experiments(service: ExperimentService, api_url: str,
                               scenario_file: Path) -> None:
    created = http("POST", f"{api_url}/experiments",
                   {"scenario": scenario_file.read_text(), "name": "demo", "creator": "me",
                    "id": "rest-1"})
    assert (created["id"], created["status"], created["creator"]) == ("rest-1", "QUEUED", "me")
    status: dict[str, Any] = {}

    def finished() -> bool:
        status.update(http("GET", f"{api_url}/experiments/rest-1/status"))
        return status["status"] not in ("QUEUED", "RUNNING")

    until(finished, 60, "the REST experiment to end")
    assert status["status"] == "FINISHED", status
    page = http("GET", f"{api_url}/experiments/rest-1/traces?limit=10&offset=0")
    assert page["total"] >= 30 and len(page["items"]) == 10
    assert {t["exp_id"] for t in page["items"]} == {"rest-1"}
    assert {t["status"] for t in page["items"]} == {200}
    assert_finished_with_traces(service, "rest-1")


# ---------------------------------------------------------------------- 3. gRPC
def test_grpc_client_start_and_watch(service: ExperimentService, runner: ProcessGroup,
                                     address: str, scenario_file: Path) -> None:
    started = galileo(service, "grpc-client", "-c", "start", "-i", "125", "-n", "Experiment",
                      "-f", str(scenario_file), "-g", address)
    assert started.returncode == 0, started.stderr
    assert started.stdout.splitlines() == [
        "Sent command start",
        "Received answer: Started experiment id 125, name Experiment, status QUEUED"]
    watched = galileo(service, "grpc-client", "-c", "watch", "-i", "125", "-g", address)
    assert watched.returncode == 0, watched.stderr
    last = watched.stdout.strip().splitlines()[-1]
    assert last.startswith("Received answer: Experiment 125 is in state FINISHED"), last
    assert_finished_with_traces(service, "125")
