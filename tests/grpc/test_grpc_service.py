"""The gRPC ExperimentService: a real server on a free port, a real client, the real experiment
service over real Redis and SQLite (no runner: experiments stay QUEUED until cancelled)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from galileo.errors import NotFoundError, ValidationError
from galileo.experiments.service import ExperimentService
from galileo.grpc.client import ExperimentClient, target
from galileo.settings import Settings

SCRIPT = "spawn * echo 2\nrps * echo 10\nsleep 1\nclose * echo\n"
pytestmark = pytest.mark.usefixtures("routed")  # SCRIPT spawns echo


def test_start_status_stop_round_trip(client: ExperimentClient,
                                      service: ExperimentService) -> None:
    reply = client.start(exp_id="125", name="Experiment", script=SCRIPT, creator="ci")
    assert reply.answer == "Started experiment id 125, name Experiment, status QUEUED"
    assert service.get("125").status == "QUEUED"

    status = client.status("125")
    assert (status.id, status.status, status.progress) == ("125", "QUEUED", 0.0)
    assert status.answer.startswith("Experiment 125 is in state QUEUED; progress 0%")

    stopped = client.stop("125")
    assert stopped.answer == "Stopped experiment id 125, name Experiment, status CANCELLED"
    assert stopped.experiment.status == "CANCELLED"
    assert service.get("125").status == "CANCELLED"


def test_list_experiments_with_filters(client: ExperimentClient) -> None:
    for i in range(3):
        client.start(exp_id=f"e{i}", script=SCRIPT, creator="ann" if i else "bob")
    client.stop("e0")
    assert {e.id for e in client.list()} == {"e0", "e1", "e2"}
    assert {e.id for e in client.list(creator="ann")} == {"e1", "e2"}
    assert [e.id for e in client.list(status="CANCELLED")] == ["e0"]
    assert len(client.list(limit=2)) == 2


def test_watch_streams_until_the_experiment_ends(client: ExperimentClient,
                                                 address: str) -> None:
    client.start(exp_id="w1", script=SCRIPT)
    first_seen = threading.Event()
    answers: list[str] = []

    def watch() -> None:
        with ExperimentClient(address) as watcher:
            for message in watcher.watch("w1", timeout_s=20):
                answers.append(message.status)
                first_seen.set()

    thread = threading.Thread(target=watch)
    thread.start()
    assert first_seen.wait(10)
    client.stop("w1")
    thread.join(20)
    assert not thread.is_alive()
    assert answers == ["QUEUED", "CANCELLED"]


def test_errors_map_to_clear_galileo_errors(client: ExperimentClient) -> None:
    with pytest.raises(NotFoundError, match="unknown experiment 'nope'"):
        client.status("nope")
    with pytest.raises(NotFoundError):
        list(client.watch("nope", timeout_s=5))
    with pytest.raises(ValidationError, match="needs a 'scenario'"):
        client.start(exp_id="x")
    with pytest.raises(ValidationError, match="line 1"):
        client.start(exp_id="x", script="fly away")
    with pytest.raises(ValidationError, match="experiment id is empty"):
        client.stop("")


def test_target_adds_the_default_port() -> None:
    assert target("localhost", 50051) == "localhost:50051"
    assert target("h:7", 50051) == "h:7"
    assert target("[::1]", 9) == "[::1]:9"


def test_grpc_client_command_like_the_seed(address: str, settings: Settings, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from galileo.cli.main import app

    for key, value in {"galileo_redis_url": settings.redis_url or "",
                       "galileo_namespace": settings.namespace,
                       "galileo_expdb_sqlite_path": str(settings.expdb_sqlite_path),
                       "galileo_log_level": "WARNING"}.items():
        monkeypatch.setenv(key, value)
    script = tmp_path / "exp.txt"
    script.write_text(SCRIPT)
    runner = CliRunner()
    started = runner.invoke(app, ["grpc-client", "-c", "start", "-i", "127", "-n", "Experiment",
                                  "-g", address, "-f", str(script)])
    assert started.exit_code == 0, started.output
    assert started.output.splitlines() == [
        "Sent command start",
        "Received answer: Started experiment id 127, name Experiment, status QUEUED"]
    status = runner.invoke(app, ["grpc-client", "-c", "status", "-i", "127", "-g", address])
    assert "Received answer: Experiment 127 is in state QUEUED" in status.output
    stopped = runner.invoke(app, ["grpc-client", "-c", "stop", "-i", "127", "-g", address])
    assert "status CANCELLED" in stopped.output
    missing = runner.invoke(app, ["grpc-client", "-c", "status", "-i", "nope", "-g", address])
    assert missing.exit_code != 0
    assert isinstance(missing.exception, NotFoundError)
