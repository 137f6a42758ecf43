"""Cluster state that must survive a Redis that restarts empty (it keeps nothing on disk).

The :class:`StateKeeper` owns it: while Redis holds the namespace's epoch key
(``Keys.epoch``) it takes a snapshot of the state every tick; when the epoch key is gone,
Redis came back empty (or was flushed), and the keeper writes the last snapshot back -- each
key only where it is still missing, so anything set since the restart wins -- sets a new
epoch, announces the change to the workers and records a ``state_restored`` event.

What is kept, and who else re-creates it:

==================  ==========================================================================
routing table       records and service set (the keeper; the workers re-read it within 1 s)
declared services   ``services:desired`` (the node agents keep their instances running; the
                    services reconciler adopts them again from the agents' reports)
current experiment  the marker, only if its experiment is still running (``keep_experiment``)
tracing switch      ``on``/``off``
client groups       group records and the group set (also re-written by any controller that
                    sends the group a command)
runner leases       ``jobs:running`` and each job's group set (the runner re-writes its
                    heartbeat itself; a dead runner's lease so comes back expired and is reaped)
worker registry     not kept: every worker re-registers on its next heartbeat (1 s)
==================  ==========================================================================

The keeper runs in the watchdog (``galileo.experiments.watchdog``) that ``galileo recorder``,
``galileo runner`` and ``galileo api`` host: one is active, the others keep a snapshot too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from galileo.bus import Bus
from galileo.errors import ValidationError
from galileo.events import EventLog, as_bytes, as_text
from galileo.protocol import EventField, EventKind, Keys, decode_event, new_id

from .experiment import EXP_EVENT, TRACING_EVENT

log = logging.getLogger(__name__)
RESTART_EVENTS_SCANNED: Final = 10_000  # events since the restart looked at for a stop


@dataclass
class Snapshot:
    """The namespace's state as last seen with the epoch key present."""

    epoch: bytes
    routing: dict[str, bytes] = field(default_factory=dict)  # service -> encoded record
    experiment: str | None = None
    tracing: bytes | None = None
    groups: dict[str, bytes] = field(default_factory=dict)  # gid -> encoded GroupInfo
    jobs_running: dict[str, bytes] = field(default_factory=dict)  # exp id -> runner
    job_groups: dict[str, list[bytes]] = field(default_factory=dict)  # exp id -> gids
    services: dict[bytes, bytes] = field(default_factory=dict)  # name -> encoded ServiceSpec


@dataclass(frozen=True)
class Restored:
    """What one restore wrote back."""

    services: list[str]
    experiment: str | None
    tracing: str | None
    groups: int
    jobs: list[str]


class StateKeeper:
    """Snapshot while Redis is intact, restore when it came back empty (see module doc)."""

    def __init__(self, client: Bus, keys: Keys,
                 keep_experiment: Callable[[str], bool] = lambda exp_id: True) -> None:
        self._r = client
        self._keys = keys
        self._keep_experiment = keep_experiment
        self._events = EventLog(client, keys)
        self.snapshot: Snapshot | None = None

    def tick(self) -> Restored | None:
        """One step: restore when the epoch key is gone (and a snapshot exists), else refresh
        the snapshot. Returns what was restored, if anything. Raises ``BusError``."""
        if self._r.get(self._keys.epoch) is None:
            restored = self._restore() if self.snapshot is not None else None
            self._r.set(self._keys.epoch, new_id(), nx=True)
            self.snapshot = None
            self._take()
            return restored
        self._take()
        return None

    def observe(self) -> None:
        """Only refresh the snapshot (a standby keeper: it restores once it is the active one,
        even when the active one died together with Redis). Raises ``BusError``."""
        self._take()

    # ------------------------------------------------------------------ snapshot
    def _take(self) -> None:
        k = self._keys
        with self._r.pipeline(transaction=True) as pipe:
            pipe.get(k.epoch)
            pipe.smembers(k.rtbl_services)
            pipe.get(k.current_experiment)
            pipe.get(k.tracing)
            pipe.smembers(k.groups)
            pipe.hgetall(k.jobs_running)
            pipe.hgetall(k.services_desired)
            epoch, services, exp, tracing, gids, jobs, declared = pipe.execute()
        if epoch is None:
            return
        services = _names(services, k.rtbl)
        gids = _names(gids, k.group)
        jobs = {as_text(e): r for e, r in jobs.items() if _names([e], k.job_groups)}
        with self._r.pipeline(transaction=True) as pipe:
            pipe.get(k.epoch)
            for s in services:
                pipe.get(k.rtbl(s))
            for gid in gids:
                pipe.hget(k.group(gid), "info")
            for exp_id in jobs:
                pipe.smembers(k.job_groups(exp_id))
            again, *values = pipe.execute()
        if again != epoch:  # Redis restarted between the two reads: keep the old snapshot
            return
        records, infos, members = (values[:len(services)],
                                   values[len(services):len(services) + len(gids)],
                                   values[len(services) + len(gids):])
        self.snapshot = Snapshot(
            epoch=epoch,
            routing={s: v for s, v in zip(services, records, strict=True) if v},
            experiment=as_text(exp) if exp else None, tracing=tracing,
            groups={g: v for g, v in zip(gids, infos, strict=True) if v},
            jobs_running=jobs,
            job_groups={e: sorted(m) for e, m in zip(jobs, members, strict=True) if m},
            services=dict(declared or {}))

    # ------------------------------------------------------------------ restore
    def _stopped_since_restart(self) -> set[str]:
        """Experiments whose stop event is in the (new, short) events stream."""
        return _stopped(self._r.xrange(self._keys.events, count=RESTART_EVENTS_SCANNED))

    def _restore(self) -> Restored:
        snap, k = self.snapshot, self._keys
        assert snap is not None
        experiment = snap.experiment
        # stopped since the restart (its event is still in the new stream, or -- once the
        # recorder took it -- the expdb says so: check in that order, the recorder commits
        # before it deletes the entry)
        if experiment is not None and (experiment in self._stopped_since_restart()
                                       or not self._keep_experiment(experiment)):
            experiment = None
        with self._r.pipeline(transaction=True) as pipe:
            for service, raw in snap.routing.items():
                pipe.set(k.rtbl(service), raw, nx=True)
                pipe.sadd(k.rtbl_services, service)
            if experiment is not None:
                pipe.set(k.current_experiment, experiment, nx=True)
            if snap.tracing is not None:
                pipe.set(k.tracing, snap.tracing, nx=True)
            for gid, raw in snap.groups.items():
                pipe.hsetnx(k.group(gid), "info", raw)
                pipe.sadd(k.groups, gid)
            for exp_id, runner in snap.jobs_running.items():
                pipe.hsetnx(k.jobs_running, exp_id, runner)
            for exp_id, gids in snap.job_groups.items():
                pipe.sadd(k.job_groups(exp_id), *gids)
            for name, raw in snap.services.items():
                pipe.hsetnx(k.services_desired, name, raw)
            pipe.publish(k.rtbl_updates, "*")
            pipe.publish(k.control_events, EXP_EVENT)
            pipe.publish(k.control_events, TRACING_EVENT)
            pipe.execute()
        restored = Restored(sorted(snap.routing), experiment,
                            as_text(snap.tracing) if snap.tracing else None, len(snap.groups),
                            sorted(snap.jobs_running))
        self._events.append(EventKind.STATE_RESTORED, "redis-empty", {
            "services": restored.services, "experiment": restored.experiment,
            "tracing": restored.tracing, "groups": restored.groups, "jobs": restored.jobs,
            "declared_services": sorted(as_text(n) for n in snap.services)},
            exp_id=experiment)
        log.warning("Redis came back empty: restored %d routing record(s), experiment %s, "
                    "tracing %s, %d group(s), %d runner lease(s)", len(restored.services),
                    experiment or "none", restored.tracing or "default", restored.groups,
                    len(restored.jobs))
        return restored


def _stopped(entries: Any) -> set[str]:
    out = set()
    for _id, fields in entries or []:
        try:
            event = decode_event(as_bytes((fields or {})[EventField]))
        except (KeyError, msgspec.DecodeError, msgspec.ValidationError):
            continue
        if event.kind == EventKind.EXPERIMENT_STOP and event.exp_id:
            out.add(event.exp_id)
    return out


def _names(members: Any, build: Callable[[str], str]) -> list[str]:
    """Members usable in a key (``build`` validates); a bad one is skipped."""
    out = []
    for m in members:
        name = m.decode(errors="replace") if isinstance(m, bytes) else str(m)
        try:
            build(name)
        except ValidationError:  # not a name Galileo wrote: not ours to restore
            continue
        out.append(name)
    return sorted(out)
