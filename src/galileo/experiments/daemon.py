"""``galileo runner``: a Celery worker for experiment tasks, plus the cluster watchdog
(:mod:`galileo.experiments.watchdog`: it marks experiments of dead runners FAILED and restores
the state after Redis restarted empty, also where no recorder runs)."""

from __future__ import annotations

import logging
import threading

from galileo.protocol import Keys
from galileo.settings import Settings

from .runner import default_runner_name
from .tasks import make_app
from .watchdog import start_in_thread

log = logging.getLogger(__name__)


def run_runner(settings: Settings, concurrency: int, name: str | None = None) -> int:
    """Run until stopped (SIGTERM/SIGINT: warm shutdown); returns the exit code."""
    app = make_app(settings, name)
    stop = threading.Event()
    dog = start_in_thread(settings, stop)
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
