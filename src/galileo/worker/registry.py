"""A worker's entries in Redis: its registration and heartbeat, and its groups' records.

Redis may restart empty (it keeps nothing on disk). Every heartbeat re-adds the worker to the
workers set; when that ``SADD`` adds it anew after the first registration, Redis lost the
worker's state: the worker logs it, records a ``worker_reregistered`` event, and makes sure each
group it hosts is registered again -- merging its own share (clients, rate) into the group
record. A missing group record is left ``GROUP_RESTORE_GRACE_S`` to the state keeper (which
restores the whole record from its snapshot) before the workers rebuild it from their shares.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec

from galileo import __version__, bus
from galileo.errors import BusConflict
from galileo.protocol import (
    WORKER_TTL_S,
    EventField,
    EventKind,
    GroupInfo,
    Keys,
    SpawnGroup,
    WorkerInfo,
    decode_group_info,
    encode,
    new_event,
)
from galileo.settings import Settings

log = logging.getLogger(__name__)

GROUP_RESTORE_GRACE_S: Final = 2.0
WATCH_ATTEMPTS: Final = 5


class Registry:
    """Registers one worker and, after Redis came back empty, its groups."""

    def __init__(self, client: bus.AsyncBus, keys: Keys, settings: Settings, name: str,
                 processes: int) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self.name = name
        self.processes = processes
        self.started_ns = time.time_ns()
        self.registrations = 0  # times the worker found itself missing (1 = first start)
        self._orphans: dict[str, float] = {}  # gid -> monotonic time its record was missing

    def info(self, clients: int, groups: int) -> WorkerInfo:
        return WorkerInfo(
            name=self.name, host=socket.gethostname(), pid=os.getpid(),
            processes=self.processes, labels=dict(self._settings.labels),
            started_ns=self.started_ns, heartbeat_ns=time.time_ns(),
            clients=clients, groups=groups, version=__version__,
        )

    async def register(self, clients: int, groups: int) -> bool:
        """Write the registration; True when Redis did not know this worker (first start, or
        Redis restarted empty)."""
        key = self._keys.worker(self.name)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.sadd(self._keys.workers, self.name)
            pipe.hset(key, "info", encode(self.info(clients, groups)))
            pipe.expire(key, WORKER_TTL_S)
            added, *_ = await pipe.execute()
        if not added:
            return False
        self.registrations += 1
        return True

    async def deregister(self) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.delete(self._keys.worker(self.name))
            pipe.srem(self._keys.workers, self.name)
            await pipe.execute()

    async def record_reregistration(self, groups: Iterable[str], exp_id: str | None) -> None:
        gids = sorted(groups)
        log.warning("worker %s: Redis lost this worker's registration (restarted empty?); "
                    "registered again with %d group(s)", self.name, len(gids))
        event = new_event(EventKind.WORKER_REREGISTERED, exp_id=exp_id, name=self.name,
                          data={"groups": gids, "times": self.registrations - 1})
        await self._client.xadd(self._keys.events, {EventField: encode(event)})
        now = time.monotonic()
        for gid in gids:
            self._orphans.setdefault(gid, now)

    async def restore_groups(self, spawned: dict[str, SpawnGroup], paused: dict[str, bool],
                             now: Callable[[], float] = time.monotonic) -> None:
        """Re-register groups this worker hosts whose record is missing or lacks its share."""
        for gid in list(self._orphans):
            spawn = spawned.get(gid)
            if spawn is None:  # closed meanwhile
                del self._orphans[gid]
                continue
            if await self._merge(spawn, paused.get(gid, False),
                                 create=now() - self._orphans[gid] >= GROUP_RESTORE_GRACE_S):
                del self._orphans[gid]

    async def _merge(self, spawn: SpawnGroup, paused: bool, create: bool) -> bool:
        """Merge this worker's share into the group record; False to try again later."""
        key = self._keys.group(spawn.gid)

        async def step(pipe: Any) -> tuple[bool, bool]:
            """(merged, the record was missing)"""
            info = _decode(await pipe.hget(key, "info"), key)
            if info is None and not create:
                return False, True
            merged = _with_share(info, spawn, self.name, paused)
            pipe.multi()
            if merged is not None:
                pipe.hset(key, "info", encode(merged))
            pipe.sadd(self._keys.groups, spawn.gid)
            return True, info is None

        try:
            done, missing = await bus.transact_async(self._client, [key], step,
                                                     what=f"group {spawn.gid}",
                                                     attempts=WATCH_ATTEMPTS)
        except BusConflict:
            return False  # other writers kept changing it: merge again later
        if not done:
            return False
        if missing:
            log.warning("worker %s: re-registered group %s from its own share", self.name,
                        spawn.gid)
        return True


def _decode(raw: object, key: str) -> GroupInfo | None:
    if not isinstance(raw, bytes | str) or not raw:
        return None
    try:
        return decode_group_info(raw.encode() if isinstance(raw, str) else raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        log.warning("malformed group record at %s replaced: %s", key, e)
        return None


def _with_share(info: GroupInfo | None, spawn: SpawnGroup, worker: str,
                paused: bool) -> GroupInfo | None:
    """``info`` with this worker's share added (a new record when ``info`` is None); None when
    it already holds the share."""
    if info is None:
        return GroupInfo(gid=spawn.gid, service=spawn.service,
                         placement={worker: list(spawn.clients)}, request=spawn.request,
                         arrival=spawn.arrival, rps=spawn.rps, paused=paused,
                         created_ns=time.time_ns(), exp_id=spawn.exp_id)
    if worker in info.placement:
        return None
    return msgspec.structs.replace(info, placement={**info.placement,
                                                    worker: list(spawn.clients)},
                                   rps=info.rps + spawn.rps)
