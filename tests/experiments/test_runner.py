"""Queue → runner → FINISHED with traces attached by experiment id, on real parts."""

from __future__ import annotations

from typing import Any

from conftest import scenario, until

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
