"""Turn one bus command into per-process operations and exactly one :class:`Reply`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import msgspec

from galileo.errors import ValidationError
from galileo.protocol import (
    Burst,
    CloseGroup,
    Command,
    Pause,
    Ping,
    Reply,
    Resume,
    SetRate,
    SpawnGroup,
    check_name,
)
from galileo.worker.generators import GeneratorPolicy, check_generator
from galileo.worker.procs import EngineHandle, Result
from galileo.worker.split import split_burst, split_rate, split_spawn

CLOSE_TOTALS = ("sent", "done", "errors", "late")


def check_names(cmd: Command) -> None:
    """Validate every name in ``cmd`` that enters a Redis key (``ValidationError`` if bad)."""
    gid = getattr(cmd, "gid", None)
    if gid is not None:
        check_name("group", gid)
    if isinstance(cmd, SpawnGroup):
        check_name("service", cmd.service)
        if cmd.exp_id is not None:
            check_name("experiment id", cmd.exp_id)


class Dispatcher:
    """Knows each group's client split over the processes; builds replies."""

    def __init__(self, worker: str, handles: Sequence[EngineHandle],
                 generators: GeneratorPolicy | None = None) -> None:
        self.worker = worker
        self.handles = list(handles)
        self.generators = generators or GeneratorPolicy(worker=worker)
        self.shares: dict[str, list[int]] = {}  # gid -> clients per process
        self.spawned: dict[str, SpawnGroup] = {}  # gid -> its spawn, rate kept current
        self.paused: dict[str, bool] = {}

    @property
    def clients(self) -> int:
        return sum(sum(s) for s in self.shares.values())

    def submit(self, cmd: Command) -> asyncio.Future[Reply] | Reply:
        """Hand ``cmd`` to the processes now (keeps bus order); the reply comes when all did."""
        if isinstance(cmd, Ping):
            return Reply(corr=cmd.corr, worker=self.worker, applied_ns=time.time_ns(),
                         data={"sent_ns": cmd.sent_ns})
        try:
            check_names(cmd)
            if isinstance(cmd, SpawnGroup) and cmd.request.generator:
                check_generator(cmd.request.generator, self.generators)
        except ValidationError as e:
            return self._refuse(cmd.corr, f"worker {self.worker} refused the command: {e}")
        parts: Sequence[Any]
        if isinstance(cmd, SpawnGroup):
            if cmd.gid in self.shares:
                return self._refuse(cmd.corr, f"group {cmd.gid!r} already exists on worker "
                                              f"{self.worker}")
            parts = split_spawn(cmd, len(self.handles))
            self.shares[cmd.gid] = [len(p.clients) for p in parts]
            self.spawned[cmd.gid] = cmd
        else:
            counts = self.shares.get(cmd.gid)
            if counts is None:
                return self._refuse(cmd.corr, f"unknown group {cmd.gid!r} on worker {self.worker}")
            self._remember(cmd)
            if isinstance(cmd, SetRate):
                parts = split_rate(cmd, counts)
            elif isinstance(cmd, Burst):
                parts = split_burst(cmd, counts)
            else:
                assert isinstance(cmd, Pause | Resume | CloseGroup)
                parts = [cmd] * len(self.handles)
                if isinstance(cmd, CloseGroup):
                    del self.shares[cmd.gid]
                    self.spawned.pop(cmd.gid, None)
        futures = [h.call("cmd", p) for h, p in zip(self.handles, parts, strict=True)]
        return asyncio.ensure_future(self._collect(cmd, futures))

    async def _collect(self, cmd: Command, futures: list[asyncio.Future[Result]]) -> Reply:
        results = await asyncio.gather(*futures)
        errors = [err or "failed" for ok, err, _, _ in results if not ok]
        if isinstance(cmd, SpawnGroup) and errors:
            self.shares.pop(cmd.gid, None)
            self.spawned.pop(cmd.gid, None)
        data: dict[str, Any] = {}
        if isinstance(cmd, Burst | CloseGroup):  # counters summed over the processes
            names = ("done", "errors") if isinstance(cmd, Burst) else CLOSE_TOTALS
            data = {k: sum(int(d.get(k, 0)) for _, _, d, _ in results) for k in names}
        return Reply(corr=cmd.corr, worker=self.worker, ok=not errors,
                     error=errors[0] if errors else None,
                     applied_ns=max(r[3] for r in results), data=data)

    def _remember(self, cmd: Command) -> None:
        """Keep the spawn record current (rate, paused) for re-registration."""
        spawn = self.spawned.get(getattr(cmd, "gid", ""))
        if spawn is None:
            return
        if isinstance(cmd, SetRate):
            self.spawned[spawn.gid] = msgspec.structs.replace(spawn, rps=cmd.rps)
        elif isinstance(cmd, Pause | Resume):
            self.paused[spawn.gid] = isinstance(cmd, Pause)

    def _refuse(self, corr: str, error: str) -> Reply:
        return Reply(corr=corr, worker=self.worker, ok=False, error=error,
                     applied_ns=time.time_ns())
