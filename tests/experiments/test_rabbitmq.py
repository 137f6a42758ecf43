"""Experiments through a RabbitMQ broker (``galileo_broker_url=amqp://…``): a real ``galileo
runner`` subprocess consumes the task from RabbitMQ and runs it to FINISHED with its traces.
Skipped, with the reason, when RabbitMQ does not answer."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from jobhelpers import scenario, until

from galileo.experiments.model import ExperimentStatusView as StatusView
from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.storage import ExperimentStatus

RABBITMQ_URL = os.environ.get("GALILEO_TEST_RABBITMQ_URL",
                              "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    from kombu import Connection

    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as e:  # refused, auth, DNS: say why and skip
        pytest.skip(f"RabbitMQ not reachable at {RABBITMQ_URL} ({type(e).__name__}: {e})")
    return RABBITMQ_URL


@pytest.fixture
def amqp_settings(settings: Settings, rabbitmq_url: str) -> Iterator[Settings]:
    """The test settings with the RabbitMQ broker; the namespace's queue is deleted after."""
    from kombu import Connection

    yield Settings.model_validate({**settings.model_dump(), "broker_url": rabbitmq_url})
    with Connection(rabbitmq_url, connect_timeout=2) as conn:
        conn.default_channel.queue_delete(Keys(settings.namespace).job_queue)


def test_experiment_through_rabbitmq(amqp_settings: Settings, cluster: ProcessGroup,
                                     app_host: str) -> None:
    cluster.start("runner", ["runner", "--name", "amqp-runner"],
                  galileo_broker_url=str(amqp_settings.broker_url))
    with ExperimentService(amqp_settings) as service:
        with service.celery.connection_for_write() as conn:
            assert conn.transport.driver_type == "amqp"
        exp = service.submit(scenario=scenario(app_host, rps=20, seconds=2), name="amqp")
        seen: list[StatusView] = []

        def ended() -> bool:
            seen.append(service.status(exp.id))
            return seen[-1].terminal

        until(ended, 60, "the experiment queued on RabbitMQ to end")
        assert seen[-1].status == "FINISHED", seen[-1]
        assert "running on amqp-runner" in " ".join(v.message or "" for v in seen)
        assert service.get(exp.id).status == ExperimentStatus.FINISHED
        traces = service.db.traces(exp.id)
        assert 30 <= len(traces) <= 50 and {t["exp_id"] for t in traces} == {exp.id}
