"""``JobContext``: what a running experiment needs around it -- the controller, the expdb, the
progress reporter, the cooperative cancel check and the set of client groups it spawned."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from galileo.control.galileo import Galileo
from galileo.control.group import ClientGroup
from galileo.errors import GalileoError, NotFoundError
from galileo.protocol import EventKind
from galileo.storage import ExpDB

from . import store
from .model import CANCEL_CHECK_INTERVAL_S, PROGRESS_WRITE_INTERVAL_S

log = logging.getLogger(__name__)
CLEANUP_TIMEOUT_S = 3.0


class Cancelled(Exception):
    """Raised inside a running experiment when a stop was requested."""


class JobContext:
    """Progress, cancel and group tracking for one experiment run."""

    def __init__(self, g: Galileo, db: ExpDB, exp_id: str, *,
                 on_tick: Callable[[JobContext], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.g = g
        self.db = db
        self.exp_id = exp_id
        self.groups: dict[str, ClientGroup] = {}  # workload name (or gid) → group
        self.progress = 0.0
        self.stage: str | None = None
        self.message: str | None = None
        self._on_tick = on_tick
        self._clock = clock
        self._last_write = float("-inf")
        self._cancel_requested = False

    # ------------------------------------------------------------------ cancel
    def cancel_requested(self) -> bool:
        if not self._cancel_requested:
            self._cancel_requested = bool(self.g.redis.exists(self.g.keys.job_cancel(self.exp_id)))
        return self._cancel_requested

    def check(self) -> None:
        """Raise :class:`Cancelled` when a stop was requested."""
        if self.cancel_requested():
            raise Cancelled()

    def sleep(self, seconds: float, *, progress_from: float | None = None,
              progress_to: float | None = None) -> None:
        """Wait ``seconds``, checking for a stop every ``CANCEL_CHECK_INTERVAL_S``; the progress
        moves linearly from ``progress_from`` to ``progress_to`` meanwhile (when given)."""
        start = self._clock()
        end = start + max(seconds, 0.0)
        while True:
            self.check()
            now = self._clock()
            if progress_from is not None and progress_to is not None and seconds > 0:
                frac = min((now - start) / seconds, 1.0)
                self.report(progress=progress_from + (progress_to - progress_from) * frac)
            if now >= end:
                return
            time.sleep(min(CANCEL_CHECK_INTERVAL_S, end - now))

    # ------------------------------------------------------------------ progress
    def report(self, *, progress: float | None = None, stage: str | None = None,
               message: str | None = None) -> None:
        """Update progress/stage/message; a new stage is also recorded as an event."""
        changed_stage = stage is not None and stage != self.stage
        if progress is not None:
            self.progress = max(0.0, min(1.0, progress))
        if changed_stage:
            self.stage = stage
            self.g.events.append(EventKind.EXPERIMENT_STAGE, stage or "",
                                 {"progress": self.progress}, exp_id=self.exp_id)
        if message is not None:
            self.message = message
        now = self._clock()
        if changed_stage or message is not None or now - self._last_write >= \
                PROGRESS_WRITE_INTERVAL_S:
            self._last_write = now
            store.update_progress(self.db, self.exp_id, progress=self.progress,
                                  stage=self.stage if changed_stage else None, message=message)
        if self._on_tick is not None:
            self._on_tick(self)

    # ------------------------------------------------------------------ groups
    def track(self, group: ClientGroup, name: str | None = None) -> ClientGroup:
        """Remember a group this experiment spawned (closed at the end, or by the reaper)."""
        self.groups = {k: v for k, v in self.groups.items() if v.gid != group.gid}
        self.groups[name or group.gid] = group
        self.g.redis.sadd(self.g.keys.job_groups(self.exp_id), group.gid)
        return group

    def gids(self) -> list[str]:
        return [grp.gid for grp in self.groups.values()]

    def quiesce(self) -> None:
        """Rates to 0, then close every group still alive (best effort, errors logged)."""
        live = self._live_groups()
        for group in live:
            with contextlib.suppress(GalileoError):
                group.rps(0, timeout=CLEANUP_TIMEOUT_S)
        for group in live:
            try:
                group.close(timeout=CLEANUP_TIMEOUT_S)
            except GalileoError as e:
                log.warning("experiment %s: closing group %s: %s", self.exp_id, group.gid, e)

    def _live_groups(self) -> list[ClientGroup]:
        live = []
        for group in self.groups.values():
            try:
                live.append(self.g.group(group.gid))
            except NotFoundError:
                continue  # the script closed it already
        return live

    def snapshot(self) -> dict[str, Any]:
        return {"progress": self.progress, "stage": self.stage, "message": self.message}


class TrackingGalileo(Galileo):
    """A ``Galileo`` acting for one job (see :meth:`Galileo.act_for`) whose :meth:`spawn` also
    registers every new group with the job's :class:`JobContext` (instruction scripts spawn
    through the executor)."""

    job: JobContext | None = None

    def track_for(self, job: JobContext) -> None:
        self.job = job
        self.act_for(job.exp_id)

    def spawn(self, service: str, num: int = 1, **kwargs: Any) -> ClientGroup:
        group = super().spawn(service, num, **kwargs)
        if self.job is not None:
            self.job.track(group)
        return group
