"""``galileo runner``: a Celery worker for experiment tasks, plus the reaper that marks
experiments of dead runners FAILED (at start, then every heartbeat TTL)."""

from __future__ import annotations

import logging
import threading

from galileo.control.galileo import Galileo
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.storage import ExpDB

from .lease import reap
from .runner import default_runner_name
from .tasks import make_app

log = logging.getLogger(__name__)


def reap_loop(settings: Settings, stop: threading.Event) -> None:
    """Reap now, then every ``runner_heartbeat_ttl_s`` until ``stop`` is set."""
    with Galileo.from_settings(settings) as g, ExpDB.from_settings(settings) as db:
        while True:
            try:
                for exp_id in reap(g, db):
                    log.warning("experiment %s marked FAILED: its runner died", exp_id)
            except Exception:  # never let the reaper kill the runner
                log.exception("reaping experiments of dead runners failed")
            if stop.wait(settings.runner_heartbeat_ttl_s):
                return


def run_runner(settings: Settings, concurrency: int, name: str | None = None) -> int:
    """Run until stopped (SIGTERM/SIGINT: warm shutdown); returns the exit code."""
    app = make_app(settings, name)
    stop = threading.Event()
    reaper = threading.Thread(target=reap_loop, args=(settings, stop), name="reaper",
                              daemon=True)
    reaper.start()
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
        reaper.join(timeout=5)
        app.close()
    return int(worker.exitcode or 0)
