"""Turn one bus command into per-process operations and exactly one :class:`Reply`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

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
)
from galileo.worker.procs import EngineHandle, Result
from galileo.worker.split import split_burst, split_rate, split_spawn

CLOSE_TOTALS = ("sent", "done", "errors", "late")


class Dispatcher:
    """Knows each group's client split over the processes; builds replies."""

    def __init__(self, worker: str, handles: Sequence[EngineHandle]) -> None:
        self.worker = worker
        self.handles = list(handles)
        self.shares: dict[str, list[int]] = {}  # gid -> clients per process

    @property
    def clients(self) -> int:
        return sum(sum(s) for s in self.shares.values())

    def submit(self, cmd: Command) -> asyncio.Future[Reply] | Reply:
        """Hand ``cmd`` to the processes now (keeps bus order); the reply comes when all did."""
        if isinstance(cmd, Ping):
            return Reply(corr=cmd.corr, worker=self.worker, applied_ns=time.time_ns(),
                         data={"sent_ns": cmd.sent_ns})
        parts: Sequence[Any]
        if isinstance(cmd, SpawnGroup):
            if cmd.gid in self.shares:
                return self._refuse(cmd.corr, f"group {cmd.gid!r} already exists on worker "
                                              f"{self.worker}")
            parts = split_spawn(cmd, len(self.handles))
            self.shares[cmd.gid] = [len(p.clients) for p in parts]
        else:
            counts = self.shares.get(cmd.gid)
            if counts is None:
                return self._refuse(cmd.corr, f"unknown group {cmd.gid!r} on worker {self.worker}")
            if isinstance(cmd, SetRate):
                parts = split_rate(cmd, counts)
            elif isinstance(cmd, Burst):
                parts = split_burst(cmd, counts)
            else:
                assert isinstance(cmd, Pause | Resume | CloseGroup)
                parts = [cmd] * len(self.handles)
                if isinstance(cmd, CloseGroup):
                    del self.shares[cmd.gid]
        futures = [h.call("cmd", p) for h, p in zip(self.handles, parts, strict=True)]
        return asyncio.ensure_future(self._collect(cmd, futures))

    async def _collect(self, cmd: Command, futures: list[asyncio.Future[Result]]) -> Reply:
        results = await asyncio.gather(*futures)
        errors = [err or "failed" for ok, err, _, _ in results if not ok]
        if isinstance(cmd, SpawnGroup) and errors:
            self.shares.pop(cmd.gid, None)
        data: dict[str, Any] = {}
        if isinstance(cmd, Burst | CloseGroup):  # counters summed over the processes
            names = ("done", "errors") if isinstance(cmd, Burst) else CLOSE_TOTALS
            data = {k: sum(int(d.get(k, 0)) for _, _, d, _ in results) for k in names}
        return Reply(corr=cmd.corr, worker=self.worker, ok=not errors,
                     error=errors[0] if errors else None,
                     applied_ns=max(r[3] for r in results), data=data)

    def _refuse(self, corr: str, error: str) -> Reply:
        return Reply(corr=corr, worker=self.worker, ok=False, error=error,
                     applied_ns=time.time_ns())
