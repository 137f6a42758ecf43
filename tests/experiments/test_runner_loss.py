"""A runner killed while running: the experiment is marked FAILED with the reason."""

from __future__ import annotations

import signal

from jobhelpers import until

from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup
from galileo.settings import Settings


def test_killed_runner_marks_failed(settings: Settings, service: ExperimentService) -> None:
    exp = service.submit(script="sleep 30\n")
    with ProcessGroup(settings) as procs:
        procs.start("runner", ["runner", "--concurrency", "1"],
                    galileo_runner_heartbeat_ttl_s="1.5",
                    galileo_runner_heartbeat_interval_s="0.3")
        until(lambda: service.status(exp.id).status == "RUNNING", 30, "RUNNING")
        procs.stop("runner", signal.SIGKILL)
    # detected by the heartbeat expiring (status() reaps on the spot) -- never stuck RUNNING
    until(lambda: service.status(exp.id).status == "FAILED", 10, "FAILED")
    message = service.status(exp.id).message or ""
    assert "stopped heartbeating" in message
