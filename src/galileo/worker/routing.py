"""The worker's copy of the routing table, pushed to every load process on change.

Updated on every message on ``keys.rtbl_updates`` (a service name, or ``*`` for all) and by a
full re-read every ``RTBL_POLL_INTERVAL_S`` in case a pub/sub message was dropped. A malformed
record is logged with its key and treated as absent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from galileo import bus
from galileo.errors import BusError, ValidationError
from galileo.protocol import (
    RTBL_POLL_INTERVAL_S,
    Keys,
    RoutingRecord,
    decode_routing_record,
    valid_members,
)

log = logging.getLogger(__name__)


class RoutingCache:
    def __init__(self, client: bus.AsyncBus, keys: Keys,
                 publish: Callable[[str, Any], None]) -> None:
        self._client = client
        self._keys = keys
        self._publish = publish
        self.raw: dict[str, bytes] = {}  # service -> encoded record, as last seen
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The re-reads in progress (the worker ends them when it stops)."""
        return list(self._tasks)

    def on_update(self, service: str) -> None:
        task = asyncio.get_running_loop().create_task(self.update(service))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def update(self, service: str) -> None:
        """Re-read ``service`` (``*``: all) now; errors are logged (the poll retries)."""
        await self._safely(self.reload_all() if service == "*" else self.reload([service]))

    async def poll(self) -> None:
        while True:
            await asyncio.sleep(RTBL_POLL_INTERVAL_S)
            await self._safely(self.reload_all())

    async def _safely(self, coro: Any) -> None:
        try:
            await coro
        except BusError as e:
            log.warning("cannot read the routing table: %s", e)

    async def reload_all(self) -> None:
        members: set[bytes] = await self._client.smembers(self._keys.rtbl_services)
        services = set(valid_members(members, "service", self._keys.rtbl_services))
        await self.reload(sorted(services | set(self.raw)))

    async def reload(self, services: list[str]) -> None:
        valid = []
        for s in services:
            try:
                valid.append((s, self._keys.rtbl(s)))
            except ValidationError as e:
                log.warning("ignoring routing update: %s", e)
        if not valid:
            return
        values: list[bytes | None] = await self._client.mget(
            [k for _, k in valid])
        for (service, key), raw in zip(valid, values, strict=True):
            if raw == self.raw.get(service):
                continue
            record = self._decode(key, raw)
            if raw is None:
                self.raw.pop(service, None)
            else:
                self.raw[service] = raw
            self._publish("route", (service, record))

    @staticmethod
    def _decode(key: str, raw: bytes | None) -> RoutingRecord | None:
        if raw is None:
            return None
        try:
            return decode_routing_record(raw).validate()
        except (msgspec.DecodeError, msgspec.ValidationError, ValidationError) as e:
            log.warning("malformed routing record at %s skipped: %s", key, e)
            return None
