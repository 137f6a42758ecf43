"""The watchdog: the cluster's caretaker, hosted by ``galileo recorder``, ``galileo runner`` and
``galileo api`` (one active per namespace, by a lock with a TTL; a standby keeps a snapshot of
the state too and takes over when the active one dies, so any one of them suffices).

Every ``WATCHDOG_INTERVAL_S`` it

1. keeps the cluster state (:class:`~galileo.control.state.StateKeeper`): after Redis came back
   empty it restores the routing table, the current experiment (only if the expdb still has it
   RUNNING), the tracing switch, client groups and runner leases, and records
   ``state_restored``;
2. hands workers that died under a client group to the group (``worker_lost`` plus
   ``group_replaced`` or ``group_degraded`` events, see :mod:`galileo.control.group`), and
   lost workers that came back (``group_rejoined``: share closed, or taken back when degraded);
3. reaps experiments whose runner stopped heartbeating: marked FAILED with the reason, their
   groups closed and the marker ended (:func:`galileo.experiments.lease.reap`).

After a restore, steps 2 and 3 wait ``RESTORE_GRACE_S`` so that workers re-register and live
runners re-write their heartbeat before anyone is declared dead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.control.state import StateKeeper
from galileo.errors import GalileoError, StorageError
from galileo.events import as_text
from galileo.protocol import WORKER_TTL_S, new_id
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus

from .lease import reap

log = logging.getLogger(__name__)

WATCHDOG_INTERVAL_S: Final = 0.5
LOCK_TTL_MS: Final = 3000
RESTORE_GRACE_S: Final = WORKER_TTL_S + 1.0


class Watchdog:
    """One caretaker; :meth:`tick` does one round, :meth:`run` loops until stopped."""

    def __init__(self, settings: Settings, db: ExpDB | None = None,
                 name: str | None = None) -> None:
        self.settings = settings
        self.name = name or new_id()
        self._db = db
        self._own_db = db is None
        self._g: Galileo | None = None
        self._keeper: StateKeeper | None = None
        self._quiet_until = 0.0
        self.restores = 0
        self.reaped: list[str] = []

    # ------------------------------------------------------------------ resources
    @property
    def db(self) -> ExpDB:
        if self._db is None:
            try:
                self._db = ExpDB.from_settings(self.settings)
            except GalileoError:
                raise
            except Exception as e:  # e.g. migrations raced by the recorder's own first open
                raise StorageError(f"cannot open the experiment database: {e}") from e
        return self._db

    def _controller(self) -> tuple[Galileo, StateKeeper]:
        if self._g is None or self._keeper is None:
            self._g = Galileo.from_settings(self.settings)
            self._keeper = StateKeeper(self._g.redis, self._g.keys, self._still_running)
        return self._g, self._keeper

    def close(self) -> None:
        if self._g is not None:
            self._g.close()
            self._g = None
        if self._own_db and self._db is not None:
            self._db.close()
            self._db = None

    def _still_running(self, exp_id: str) -> bool:
        try:
            exp = self.db.get_experiment(exp_id)
        except GalileoError:
            return True  # database down: keep the marker, the experiment may well run
        return exp is None or exp.status == ExperimentStatus.RUNNING

    # ------------------------------------------------------------------ one round
    def tick(self) -> bool:
        """One round (see the module doc); False when another watchdog holds the lock."""
        g, keeper = self._controller()
        if not self._hold_lock(g):
            keeper.observe()
            return False
        if keeper.tick() is not None:
            self.restores += 1
            self._quiet_until = time.monotonic() + RESTORE_GRACE_S
        if time.monotonic() < self._quiet_until:
            return True
        self._check_groups(g)
        self.reaped += reap(g, self.db)
        return True

    def _hold_lock(self, g: Galileo) -> bool:
        key = g.keys.watchdog_lock
        if g.redis.set(key, self.name, nx=True, px=LOCK_TTL_MS):
            return True
        holder = g.redis.get(key)
        if holder is not None and as_text(holder) == self.name:
            g.redis.pexpire(key, LOCK_TTL_MS)
            return True
        return False

    def _check_groups(self, g: Galileo) -> None:
        """Dead workers out of their groups; lost workers that came back handled."""
        alive = {w.name for w in g.workers()}
        for group in g.groups():
            dead = [w for w in group.workers if w not in alive]
            try:
                if dead:
                    group.handle_lost(dead)
                if any(w in alive for w in group.lost):
                    group.handle_returned(alive)
            except GalileoError as e:
                log.warning("group %s (workers lost %s): %s", group.gid,
                            ", ".join(dead or group.lost), e)

    # ------------------------------------------------------------------ forever
    def run(self, stop: threading.Event, interval_s: float = WATCHDOG_INTERVAL_S) -> None:
        """Tick until ``stop``; Redis or database trouble is logged once per outage."""
        with bus.stop_guard(stop, lambda: self._g.redis if self._g else None, what="watchdog"):
            self._loop(stop, interval_s)

    def _loop(self, stop: threading.Event, interval_s: float) -> None:
        failing = False
        while not stop.is_set():
            try:
                self.tick()
                if failing:
                    log.info("watchdog: working again")
                failing = False
            except GalileoError as e:
                if not failing:
                    log.warning("watchdog: %s; retrying every %.1f s", e, interval_s)
                failing = True  # the Redis client reconnects by itself on the next command
            except Exception:  # never die: the cluster relies on this loop
                log.exception("watchdog round failed")
            stop.wait(interval_s)
        self.close()


def start_in_thread(settings: Settings, stop: threading.Event) -> threading.Thread:
    """Run a :class:`Watchdog` in a daemon thread until ``stop`` is set, and next to it the
    services reconciler (:mod:`galileo.services.reconciler`; one active per namespace)."""
    from galileo.services.reconciler import start_in_thread as start_reconciler

    start_reconciler(settings, stop)
    dog = Watchdog(settings)
    thread = threading.Thread(target=dog.run, args=(stop,), name="galileo-watchdog",
                              daemon=True)
    thread.start()
    return thread
