"""``galileo runner``: a Celery worker for experiment tasks, plus the cluster watchdog
(:mod:`galileo.experiments.watchdog`: it marks experiments of dead runners FAILED and restores
the state after Redis restarted empty, also where no recorder runs)."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Final

from celery.signals import worker_shutting_down

from galileo import bus
from galileo.protocol import Keys
from galileo.settings import Settings

from .runner import default_runner_name
from .tasks import make_app
from .watchdog import start_in_thread

log = logging.getLogger(__name__)

# A warm shutdown talks to the broker (acks, closing the consumer): with Redis frozen or cut off
# it would wait forever. This long after SIGTERM, a runner whose Redis does not answer exits;
# one whose Redis answers goes on finishing its running experiments as Celery's warm shutdown does.
RUNNER_STOP_BUDGET_S: Final = 4.0
_PING_TIMEOUT_S: Final = 1.0


def _exit_when_redis_is_gone(settings: Settings, budget_s: float) -> None:
    """From a daemon thread: once ``budget_s`` passed, exit the process as soon as Redis does
    not answer a ping (checked every second)."""
    time.sleep(budget_s)
    while True:
        try:
            client = bus.connect(settings, check=False, socket_timeout=_PING_TIMEOUT_S)
            bus.interrupt(client, _PING_TIMEOUT_S)  # no retries: one answer or none
            answered = client.ping_ok()
        except Exception:  # any failure to ask counts as no answer
            answered = False
        if not answered:
            log.warning("runner: Redis does not answer %g s after the stop; exiting without "
                        "the broker's goodbye (its experiments are reaped by the watchdog)",
                        budget_s)
            logging.shutdown()
            os._exit(0)
        time.sleep(1.0)


def _arm_stop_budget(settings: Settings, budget_s: float) -> None:
    """Connect the budget to Celery's shutdown signal (SIGTERM/SIGINT), once per process."""
    armed = threading.Event()

    def on_shutdown(**_: Any) -> None:
        if not armed.is_set():
            armed.set()
            threading.Thread(target=_exit_when_redis_is_gone, args=(settings, budget_s),
                             daemon=True, name="galileo-runner-stop-budget").start()

    worker_shutting_down.connect(on_shutdown, weak=False)


def run_runner(settings: Settings, concurrency: int, name: str | None = None) -> int:
    """Run until stopped (SIGTERM/SIGINT: warm shutdown); returns the exit code."""
    app = make_app(settings, name)
    stop = threading.Event()
    dog = start_in_thread(settings, stop)
    _arm_stop_budget(settings, RUNNER_STOP_BUDGET_S)
    worker = app.Worker(
        hostname=f"{name or default_runner_name()}@galileo",
        concurrency=concurrency,
        pool="solo" if concurrency == 1 else "threads",
        queues=[Keys(settings.namespace).job_queue],
        loglevel=settings.log_level,
        prefetch_multiplier=1,
        without_gossip=True,
        without_mingle=True,
    )
    try:
        worker.start()
    finally:
        stop.set()
        dog.join(timeout=5)
        app.close()
    return int(worker.exitcode or 0)
