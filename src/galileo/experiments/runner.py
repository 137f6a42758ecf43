"""Execute one queued experiment: hold its runner lease, take the leases of the services it uses
(waiting, QUEUED, while another experiment holds one), claim it (QUEUED → RUNNING, one runner
wins), run the job, record the outcome. Used by the Celery task and by ``galileo run``."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus

from . import store
from .context import JobContext, TrackingGalileo
from .engine import Outcome, run_job
from .jobs import job_from_metadata
from .lease import lease, reap, runner_alive
from .service_leases import ServiceLeases

log = logging.getLogger(__name__)


def default_runner_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def execute(settings: Settings, exp_id: str, *, runner: str | None = None,
            db: ExpDB | None = None,
            on_tick: Callable[[JobContext], None] | None = None,
            on_wait: Callable[[str], None] | None = None) -> Outcome | None:
    """Run the queued experiment ``exp_id``; ``None`` when there was nothing to run (unknown,
    cancelled before it started, or already taken by another runner). ``on_wait(why)`` is
    told when it waits for a service another experiment uses (as its status message is)."""
    runner = runner or default_runner_name()
    own_db = db is None
    db = db or ExpDB.from_settings(settings)
    g = TrackingGalileo(settings)
    try:
        exp = db.get_experiment(exp_id)
        if exp is None:
            log.warning("experiment %s is not in the expdb; skipped", exp_id)
            return None
        if exp.status == ExperimentStatus.RUNNING and not runner_alive(g, exp_id):
            reap(g, db, only=exp_id)  # a redelivered task of a runner that died
        if exp.status != ExperimentStatus.QUEUED:
            log.info("experiment %s is %s; not run again", exp_id, exp.status.value)
            return None
        leases = ServiceLeases(g.redis, g.keys, exp_id, _services(db, exp_id),
                               settings.runner_heartbeat_ttl_s)
        with lease(g.redis, settings, exp_id, runner, also=leases.refresh):
            def waiting(why: str) -> None:
                store.update_progress(db, exp_id, message=why)
                if on_wait is not None:
                    on_wait(why)

            if not leases.wait(lambda: _queued(db, exp_id), waiting):
                return None  # cancelled while it waited
            try:
                if not store.set_status_if(db, exp_id, ExperimentStatus.QUEUED,
                                           ExperimentStatus.RUNNING, f"running on {runner}",
                                           at=time.time()):
                    return None
                return _run(g, db, exp_id, exp.name, exp.creator, on_tick)
            finally:
                leases.release()
    finally:
        g.close()
        if own_db:
            db.close()


def _services(db: ExpDB, exp_id: str) -> list[str]:
    """The services the stored job uses (none when its metadata is broken: ``_run`` fails it)."""
    try:
        return job_from_metadata(store.get_metadata(db, exp_id)).services()
    except Exception:
        return []


def _queued(db: ExpDB, exp_id: str) -> bool:
    exp = db.get_experiment(exp_id)
    return exp is not None and exp.status == ExperimentStatus.QUEUED


def _run(g: TrackingGalileo, db: ExpDB, exp_id: str, name: str, creator: str,
         on_tick: Callable[[JobContext], None] | None) -> Outcome:
    ctx = JobContext(g, db, exp_id, on_tick=on_tick)
    g.track_for(ctx)
    try:
        job = job_from_metadata(store.get_metadata(db, exp_id))
    except Exception as e:  # stored metadata no longer valid: fail, do not stay RUNNING
        message = f"cannot rebuild the experiment from its metadata: {e}"
        db.finish(exp_id, ExperimentStatus.FAILED, message)
        return Outcome(ExperimentStatus.FAILED, message)
    log.info("experiment %s (%s) starts", exp_id, job.kind.value)
    outcome = run_job(job, ctx, name=name or job.default_name, creator=creator)
    log.info("experiment %s ended %s: %s", exp_id, outcome.status.value, outcome.message)
    return outcome
