"""A stop stops (issue 21, item 2), on every path: ``galileo grpc-client -c stop`` (Galileo's
gRPC service), REST ``POST /experiments/{id}/cancel``, ``galileo exp stop`` and the controller
shell's ``exp stop``; each answers with the state after stopping. Experiments started by id alone
(``grpc-client -c start -i X -n clean``, which the recorder records as RUNNING) used to answer
``status RUNNING`` and stay RUNNING and current for ever; a runner's job through the shell used
to lose only the marker. Real worker, recorder, runner (subprocesses), app and gRPC server."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from jobhelpers import galileo, until

from galileo.control.galileo import Galileo
from galileo.experiments.service import ExperimentService
from galileo.grpc.client import ExperimentClient
from galileo.localenv import ProcessGroup
from galileo.settings import Settings
from galileo.storage import ExperimentStatus
from galileo.web import create_app


def _start_by_id(service: ExperimentService, address: str, exp_id: str) -> None:
    """What ``galileo grpc-client -c start -i ID -n clean`` sends (0.x's StartExperiment)."""
    with ExperimentClient(address) as client:
        assert client.original("start", exp_id, "clean").startswith(
            f"Started experiment id {exp_id}")

    def recorded() -> bool:
        exp = service.db.get_experiment(exp_id)
        return exp is not None and exp.status == ExperimentStatus.RUNNING

    until(recorded, 30, f"the recorder to record {exp_id} as RUNNING")


def test_every_path_stops_an_experiment_started_by_id(settings: Settings, address: str,
                                                      service: ExperimentService,
                                                      cluster: ProcessGroup,
                                                      app_host: str) -> None:
    with TestClient(create_app(settings)) as api:
        paths: dict[str, Callable[[str], str]] = {
            "grpc": lambda i: galileo(settings, "grpc-client", "-c", "stop", "-i", i,
                                      "-g", address).stdout,
            "rest": lambda i: api.post(f"/experiments/{i}/cancel").json()["status"],
            "cli": lambda i: galileo(settings, "exp", "stop", i).stdout,
            "shell": lambda i: galileo(settings, "controller", stdin="exp stop\n").stdout,
        }
        with Galileo.from_settings(settings) as g:
            g.rtbl.set("echo", app_host)
            for path, stop in paths.items():
                exp_id = f"stop-{path}"
                _start_by_id(service, address, exp_id)
                assert g.experiment.current() == exp_id
                answer = stop(exp_id)
                if path == "shell":  # the shell says so; the recorder files the stop event
                    assert f"experiment {exp_id} stopped" in answer, answer
                    until(lambda i=exp_id: service.get(i).status == ExperimentStatus.FINISHED,
                          10, "the recorder to apply the shell's stop")
                else:
                    assert "FINISHED" in answer and "RUNNING" not in answer, (path, answer)
                assert service.get(exp_id).status == ExperimentStatus.FINISHED, path
                assert g.experiment.current() is None, path
            _start_by_id(service, address, "stop-answer")
            assert galileo(settings, "grpc-client", "-c", "stop", "-i", "stop-answer", "-g",
                           address).stdout.splitlines()[-1] == (
                "Received answer: Stopped experiment id stop-answer, name clean, "
                "status FINISHED")

            group = g.spawn("echo", 1)  # later traces carry no stopped experiment's id
            assert group.request(5).wait(timeout=10) == {"done": 5, "errors": 0}
            group.close()
            until(lambda: len(service.db.traces(None)) >= 5, 30, "the traces recorded")
            later = [t for t in service.db.traces(None) if t["group_id"] == group.gid]
            assert len(later) == 5 and {t["exp_id"] for t in later} == {None}


def test_a_runner_job_stops_and_the_answer_waits_for_it(settings: Settings, address: str,
                                                        service: ExperimentService,
                                                        cluster: ProcessGroup) -> None:
    """The shell's ``exp stop`` of the current experiment, a runner's job, asks the runner
    (it used to clear only the marker); gRPC's stop answers with CANCELLED, not RUNNING."""
    for exp_id in ("job-shell", "job-grpc"):
        service.submit(script="sleep 60\n", exp_id=exp_id)
    cluster.start("runner", ["runner", "--concurrency", "1", "--name", "stopper"])
    until(lambda: service.status("job-shell").status == "RUNNING", 60, "the first job")
    with Galileo.from_settings(settings) as g:
        until(lambda: g.experiment.current() == "job-shell", 10, "the job's marker")
    done = galileo(settings, "controller", stdin="exp stop\n")
    assert "experiment job-shell stopped" in done.stdout, done.stdout
    assert service.get("job-shell").status == ExperimentStatus.CANCELLED
    until(lambda: service.status("job-grpc").status == "RUNNING", 30, "the second job")
    with ExperimentClient(address) as client:
        answer = client.stop("job-grpc").answer
    assert answer == "Stopped experiment id job-grpc, name -, status CANCELLED", answer
    assert service.get("job-grpc").status == ExperimentStatus.CANCELLED
