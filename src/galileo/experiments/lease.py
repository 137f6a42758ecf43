"""Runner liveness: a lease (heartbeat key refreshed by a thread) per running experiment, and
the reaper that marks an experiment whose runner died FAILED with the reason."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from galileo.bus import Bus
from galileo.control.galileo import Galileo
from galileo.errors import BusError, GalileoError
from galileo.events import as_text
from galileo.protocol import EventKind, Keys
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus

from . import store

log = logging.getLogger(__name__)
REAP_CLOSE_TIMEOUT_S = 2.0


@contextlib.contextmanager
def lease(client: Bus, settings: Settings, exp_id: str, runner: str,
          also: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the heartbeat of ``exp_id`` while the block runs (refreshed by a daemon thread,
    which also calls ``also`` each beat: the service leases)."""
    keys = Keys(settings.namespace)
    ttl_ms = int(settings.runner_heartbeat_ttl_s * 1000)
    hb = keys.job_heartbeat(exp_id)
    with client.pipeline() as pipe:
        pipe.set(hb, runner, px=ttl_ms)
        pipe.hset(keys.jobs_running, exp_id, runner)
        pipe.execute()
    stop = threading.Event()

    def beat() -> None:  # also re-creates the lease after Redis restarted empty
        while not stop.wait(settings.runner_heartbeat_interval_s):
            with contextlib.suppress(BusError), \
                    client.pipeline(transaction=False) as p:
                p.set(hb, runner, px=ttl_ms)
                p.hset(keys.jobs_running, exp_id, runner)
                p.execute()
            if also is not None:
                also()

    thread = threading.Thread(target=beat, name=f"heartbeat-{exp_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with client.pipeline() as pipe:
            pipe.delete(hb)
            pipe.hdel(keys.jobs_running, exp_id)
            pipe.execute()


def runner_alive(g: Galileo, exp_id: str) -> bool:
    return bool(g.redis.exists(g.keys.job_heartbeat(exp_id)))


def reap(g: Galileo, db: ExpDB, only: str | None = None) -> list[str]:
    """Mark FAILED every running experiment whose runner stopped heartbeating; close its groups
    and end the cluster's experiment marker. Returns the ids reaped."""
    running = {as_text(k): as_text(v) for k, v in g.redis.hgetall(g.keys.jobs_running).items()}
    reaped = []
    for exp_id, runner in running.items():
        if (only is not None and exp_id != only) or runner_alive(g, exp_id):
            continue
        message = (f"runner {runner} stopped heartbeating (its process died or lost Redis); "
                   "the experiment was abandoned")
        _close_groups(g, exp_id)
        if g.experiment.clear_marker(exp_id):
            g.events.append(EventKind.EXPERIMENT_STOP, exp_id,
                            {"status": ExperimentStatus.FAILED.value, "message": message},
                            exp_id=exp_id)
        store.set_status_if(db, exp_id, ExperimentStatus.RUNNING, ExperimentStatus.FAILED,
                            message, at=time.time())
        g.redis.hdel(g.keys.jobs_running, exp_id)
        g.redis.delete(g.keys.job_groups(exp_id), g.keys.job_cancel(exp_id))
        log.warning("experiment %s: %s", exp_id, message)
        reaped.append(exp_id)
    return reaped


def _close_groups(g: Galileo, exp_id: str) -> None:
    """Close the groups the job registered and every group tagged with its id."""
    gids = {as_text(m) for m in g.redis.smembers(g.keys.job_groups(exp_id))}
    groups = {grp.gid: grp for grp in g.groups()
              if grp.gid in gids or grp.info.exp_id == exp_id}
    for gid in sorted(gids | set(groups)):
        try:
            (groups.get(gid) or g.group(gid)).close(timeout=REAP_CLOSE_TIMEOUT_S)
        except GalileoError as e:
            log.info("experiment %s: group %s: %s", exp_id, gid, e)
