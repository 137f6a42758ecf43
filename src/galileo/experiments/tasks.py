"""The Celery application: experiment tasks on the broker (``settings.broker_connection_url()``:
the bus Redis by default, RabbitMQ with an ``amqp://`` URL). One experiment per concurrency slot:
prefetch 1 and late acks, so a queued experiment waits until a runner slot is free."""

from __future__ import annotations

import logging
from typing import Any, Final

from celery import Celery

from galileo.protocol import Keys
from galileo.settings import Settings

from .model import TASK_NAME

log = logging.getLogger(__name__)
VISIBILITY_TIMEOUT_S: Final = 7 * 24 * 3600  # a redelivered task of a live runner never races


def make_app(settings: Settings, runner: str | None = None) -> Celery:
    """A Celery app for ``settings`` with the experiment task registered; ``runner`` names the
    runner in status messages and leases (default: host-pid)."""
    keys = Keys(settings.namespace)
    app = Celery(f"galileo-{settings.namespace}", broker=settings.broker_connection_url(),
                 backend=settings.result_backend, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=keys.job_queue,
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_serializer="json",
        accept_content=["json"],
    )

    @app.task(name=TASK_NAME, ignore_result=True, shared=False)  # type: ignore[untyped-decorator]
    def run_experiment(exp_id: str) -> str:
        from .runner import execute

        outcome = execute(settings, exp_id, runner=runner)
        return "skipped" if outcome is None else outcome.status.value

    app.galileo_settings = settings
    return app


def enqueue(app: Celery, settings: Settings, exp_id: str) -> Any:
    """Send the experiment task to this namespace's queue."""
    return app.send_task(TASK_NAME, args=[exp_id], queue=Keys(settings.namespace).job_queue,
                         ignore_result=True)
