"""Queue → runner → FINISHED with traces attached by experiment id, on real parts."""

from __future__ import annotations

from typing import Any

from jobhelpers import scenario, until

from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup
from galileo.storage import ExperimentStatus


def test_queue_run_finished_with_traces(service: ExperimentService, cluster: ProcessGroup,
                                        celery_runner: Any, app_host: str) -> None:
    exp = service.submit(scenario=scenario(app_host, rps=20, seconds=2,
                                           thresholds=["error_rate < 0.01"]), creator="ci")
    assert exp.status == ExperimentStatus.QUEUED
    with celery_runner():
        views = list(service.watch(exp.id, interval_s=0.1))
    assert views[-1].status == "FINISHED", views[-1]
    assert any(v.status == "RUNNING" for v in views)
    done = service.get(exp.id)
    assert done.progress == 1.0 and done.creator == "ci" and done.name == "smoke"
    assert "1/1 thresholds passed" in (done.status_message or "")
    traces = service.db.traces(exp.id)
    assert 30 <= len(traces) <= 50  # 20/s for 2 s
    assert {t["exp_id"] for t in traces} == {exp.id}
    kinds = {e["kind"] for e in service.db.events(exp.id)}
    assert {"experiment_start", "experiment_stop", "experiment_stage", "threshold"} <= kinds


def test_stop_while_running_cancelled_data_kept(service: ExperimentService,
                                                cluster: ProcessGroup, celery_runner: Any,
                                                app_host: str) -> None:
    exp = service.submit(scenario=scenario(app_host, rps=50, seconds=30))
    with celery_runner():
        until(lambda: service.status(exp.id).status == "RUNNING", 15, "RUNNING")
        until(lambda: service.db.count_traces(exp.id) > 0, 15, "first traces")
        service.cancel(exp.id)
        views = list(service.watch(exp.id, interval_s=0.05))
    done = service.get(exp.id)
    assert views[-1].status == "CANCELLED"
    assert done.end is not None and done.start is not None and done.end - done.start < 10
    assert service.db.count_traces(exp.id) > 0  # data kept
    assert service.celery is not None


def test_cancel_queued_never_runs(service: ExperimentService) -> None:
    exp = service.submit(script="sleep 1\n")
    cancelled = service.cancel(exp.id)
    assert cancelled.status == ExperimentStatus.CANCELLED
    assert service.status(exp.id).message == "cancelled before it started"


def test_script_job_runs_seed_language(service: ExperimentService, cluster: ProcessGroup,
                                       celery_runner: Any, app_host: str) -> None:
    from galileo.control.galileo import Galileo

    with Galileo.from_settings(service.settings) as g:
        g.rtbl.set("echo", [app_host])
    exp = service.submit(script="spawn * echo 1\nrps * echo 20\nsleep 1.5\nclose * echo\n",
                         name="seedish")
    with celery_runner():
        views = list(service.watch(exp.id, interval_s=0.1))
    assert views[-1].status == "FINISHED", views[-1]
    assert any((v.stage or "").startswith("line 3: sleep") for v in views)
    until(lambda: service.db.count_traces(exp.id) >= 20, 10, "traces of the script")
