"""The load engine of one worker process: its client groups, routing and trace context.

Commands reach it already split to this process's share (:mod:`galileo.worker.split`); it runs
them on the process's event loop and returns the reply data. Nothing here touches Redis except
through the trace sink it is given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from galileo.balancing import SmoothWeightedRoundRobin
from galileo.errors import NotFoundError, ValidationError
from galileo.load.group import LoadGroup, TraceContext, TraceSink
from galileo.protocol import (
    Burst,
    CloseGroup,
    GroupStats,
    Pause,
    Resume,
    RoutingRecord,
    SetRate,
    SpawnGroup,
)
from galileo.worker.generators import GeneratorPolicy, make_generator

log = logging.getLogger(__name__)

GroupCommand = SpawnGroup | SetRate | Pause | Resume | Burst | CloseGroup


class Engine:
    """Client groups of one process (``apply`` a command, ``take_stats`` each second)."""

    def __init__(self, worker: str, emit: TraceSink,
                 generators: GeneratorPolicy | None = None) -> None:
        self.context = TraceContext(worker)
        self.generators = generators or GeneratorPolicy(worker=worker)
        self.groups: dict[str, LoadGroup] = {}
        self._emit = emit
        self._routes: dict[str, SmoothWeightedRoundRobin] = {}
        self._final: list[GroupStats] = []  # last partial seconds of closed groups

    # ------------------------------------------------------------------ state
    def resolve(self, service: str) -> str | None:
        rr = self._routes.get(service)
        return rr.next() if rr is not None else None

    def set_route(self, service: str, record: RoutingRecord | None) -> None:
        if record is None:
            self._routes.pop(service, None)
        else:
            self._routes[service] = SmoothWeightedRoundRobin(record.hosts, record.weights)

    def set_context(self, exp_id: str | None, tracing: bool) -> None:
        self.context.exp_id = exp_id
        self.context.tracing = tracing

    # ------------------------------------------------------------------ commands
    async def apply(self, cmd: GroupCommand) -> dict[str, Any]:
        """Run one (split) command; raises ``GalileoError`` with a clear sentence on refusal."""
        if isinstance(cmd, SpawnGroup):
            await self._spawn(cmd)
            return {}
        group = self.groups.get(cmd.gid)
        if group is None:
            raise NotFoundError(f"unknown group {cmd.gid!r} on worker {self.context.worker}")
        if isinstance(cmd, SetRate):
            group.set_rate(cmd.rps, cmd.ramp_s)
        elif isinstance(cmd, Pause):
            group.pause()
        elif isinstance(cmd, Resume):
            group.resume()
        elif isinstance(cmd, Burst):
            ok, errors = await group.burst(cmd.n)
            return {"done": ok, "errors": errors}
        elif isinstance(cmd, CloseGroup):
            del self.groups[cmd.gid]
            totals = await group.close()
            self._final.append(group.take_stats(int(time.time())))  # the last partial second
            return totals
        return {}

    async def _spawn(self, cmd: SpawnGroup) -> None:
        self._check_new(cmd.gid)
        generator = None
        if cmd.request.generator:
            # user code (a generator loading its data, a client app's download) runs off the
            # loop: with one process the loop is also the worker's, whose heartbeat must go on
            generator = await asyncio.to_thread(
                make_generator, cmd.request.generator, cmd.request.generator_args,
                self.generators)
            self._check_new(cmd.gid)
        group = LoadGroup(
            gid=cmd.gid, service=cmd.service, clients=cmd.clients, request=cmd.request,
            arrival=cmd.arrival, rps=cmd.rps, resolve=self.resolve, context=self.context,
            emit=self._emit, max_inflight=cmd.max_inflight, timeout_s=cmd.timeout_s,
            exp_id=cmd.exp_id, generator=generator,
        )
        self.groups[cmd.gid] = group
        group.start()

    def _check_new(self, gid: str) -> None:
        if gid in self.groups:
            raise ValidationError(f"group {gid!r} already exists on worker "
                                  f"{self.context.worker}")

    def take_stats(self, second: int) -> list[GroupStats]:
        """Each group's stats of ``second``, plus the last (partial) second of groups closed
        since the previous call."""
        final, self._final = self._final, []
        return [g.take_stats(second) for g in self.groups.values()] + final

    async def close(self) -> None:
        """Close every group at once (in-flight requests are traced as cancelled)."""
        groups, self.groups = list(self.groups.values()), {}
        await asyncio.gather(*(g.close() for g in groups))

    @staticmethod
    def now_ns() -> int:
        return time.time_ns()
