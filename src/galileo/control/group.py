"""``ClientGroup``: a handle on clients spread over workers, driven through commands."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from galileo.errors import ValidationError, WorkerError
from galileo.protocol import (
    Burst,
    CloseGroup,
    Command,
    EventKind,
    GroupInfo,
    Pause,
    Resume,
    SetRate,
    encode,
)

from .commands import Replies
from .placement import split_count, split_rate
from .stats import SecondStats, read_stats

if TYPE_CHECKING:
    from .galileo import Galileo

STATS_TTL_AFTER_CLOSE_S = 600


@dataclass(frozen=True)
class RateChange:
    """The outcome of :meth:`ClientGroup.rps`: per-worker shares and send→applied latencies."""

    total: float
    shares: dict[str, float]
    latency_ms: dict[str, float]

    @property
    def max_latency_ms(self) -> float:
        return max(self.latency_ms.values(), default=0.0)


class BurstHandle:
    """A running :meth:`ClientGroup.request` burst; :meth:`wait` collects the workers' counts."""

    def __init__(self, group: ClientGroup, replies: Replies, shares: dict[str, int]) -> None:
        self._group = group
        self._replies = replies
        self.shares = shares

    def wait(self, timeout: float | None = None) -> dict[str, int]:
        """Block until every worker finished its share; returns ``{"done", "errors"}``."""
        limit = timeout if timeout is not None else 24 * 3600.0
        workers = [w for w in self.shares if w not in self._replies.silent]
        self._group._g.commander.collect(self._replies, workers, time.monotonic() + limit)
        self._replies.raise_for_problems(f"burst on group {self._group.gid}")
        done = errors = 0
        for reply in self._replies.by_worker.values():
            done += int(reply.data.get("done", 0))
            errors += int(reply.data.get("errors", 0))
        return {"done": done, "errors": errors}


class ClientGroup:
    """Clients of one service placed on one or more workers (see :meth:`Galileo.spawn`)."""

    def __init__(self, g: Galileo, info: GroupInfo) -> None:
        self._g = g
        self._info = info

    # ------------------------------------------------------------------ properties
    @property
    def gid(self) -> str:
        return self._info.gid

    @property
    def service(self) -> str:
        return self._info.service

    @property
    def workers(self) -> list[str]:
        return sorted(self._info.placement)

    @property
    def clients(self) -> list[str]:
        return [c for w in self.workers for c in self._info.placement[w]]

    @property
    def info(self) -> GroupInfo:
        return self._info

    @property
    def target_rps(self) -> float:
        return self._info.rps

    @property
    def paused(self) -> bool:
        return self._info.paused

    def _counts(self) -> dict[str, int]:
        return {w: len(c) for w, c in self._info.placement.items()}

    def __repr__(self) -> str:
        return (f"<ClientGroup {self.gid[:8]} service={self.service} clients={len(self.clients)}"
                f" workers={self.workers} rps={self.target_rps:g}>")

    # ------------------------------------------------------------------ commands
    def _send(self, build: Any, what: str, timeout: float) -> Replies:
        corr = self._g.commander.new_corr()
        commands: dict[str, Command] = {w: build(w, corr) for w in self.workers}
        replies = self._g.commander.send(commands, timeout=timeout, corr=corr)
        replies.raise_for_problems(f"{what} on group {self.gid}")
        return replies

    def _save(self, **changes: Any) -> None:
        self._info = msgspec.structs.replace(self._info, **changes)
        self._g.redis.hset(self._g.keys.group(self.gid), "info", encode(self._info))

    def rps(self, total: float, ramp: float = 0.0, timeout: float = 10.0) -> RateChange:
        """Set the whole group's rate (requests/s), split over workers by client count."""
        if not total >= 0 or total == float("inf") or ramp < 0:
            raise ValidationError(f"rate {total!r} (ramp {ramp!r}) for group {self.gid} must be "
                                  "finite and >= 0")
        shares = split_rate(float(total), self._counts())
        replies = self._send(lambda w, c: SetRate(corr=c, gid=self.gid, rps=shares[w],
                                                  ramp_s=float(ramp), sent_ns=time.time_ns()),
                             "rps", timeout)
        latency = {w: max(r.applied_ns - replies.sent_ns, 0) / 1e6
                   for w, r in replies.by_worker.items()}
        self._save(rps=float(total))
        self._g.events.append(EventKind.GROUP_RATE, self.gid,
                              {"service": self.service, "rps": float(total), "ramp_s": ramp,
                               "latency_ms": latency})
        return RateChange(float(total), shares, latency)

    def pause(self, timeout: float = 10.0) -> None:
        """Stop sending (in-flight requests complete); :meth:`resume` continues."""
        self._send(lambda w, c: Pause(corr=c, gid=self.gid), "pause", timeout)
        self._save(paused=True)

    def resume(self, timeout: float = 10.0) -> None:
        self._send(lambda w, c: Resume(corr=c, gid=self.gid), "resume", timeout)
        self._save(paused=False)

    def request(self, n: int = 1, timeout: float = 10.0) -> BurstHandle:
        """Send ``n`` requests now, split over workers; ``.wait()`` for the outcome."""
        if n < 0:
            raise ValidationError(f"request count {n} for group {self.gid} must be >= 0")
        shares = {w: k for w, k in split_count(n, self._counts()).items() if k > 0}
        corr = self._g.commander.new_corr()
        commands: dict[str, Command] = {w: Burst(corr=corr, gid=self.gid, n=k)
                                        for w, k in shares.items()}
        replies = self._g.commander.send(commands, timeout=timeout, wait=False, corr=corr)
        if replies.silent:
            raise WorkerError(f"burst on group {self.gid}: worker(s) "
                              f"{', '.join(replies.silent)} are not listening")
        return BurstHandle(self, replies, shares)

    def stats(self, seconds: int = 10) -> list[SecondStats]:
        """The newest ``seconds`` seconds of this group, merged over its workers."""
        return read_stats(self._g.redis, self._g.keys, self.gid, seconds, len(self.workers))

    def close(self, timeout: float = 10.0) -> dict[str, int]:
        """Stop and remove the group on its workers and forget it. In-flight requests get a
        moment to finish. Returns the group's totals (``sent``, ``done``, ``errors``, ``late``)
        summed over the workers that answered."""
        corr = self._g.commander.new_corr()
        commands: dict[str, Command] = {w: CloseGroup(corr=corr, gid=self.gid)
                                        for w in self.workers}
        replies = self._g.commander.send(commands, timeout=timeout, corr=corr)
        keys = self._g.keys
        with self._g.redis.pipeline() as pipe:
            pipe.delete(keys.group(self.gid))
            pipe.srem(keys.groups, self.gid)
            pipe.expire(keys.group_stats(self.gid), STATS_TTL_AFTER_CLOSE_S)
            pipe.execute()
        self._g.events.append(EventKind.GROUP_CLOSE, self.gid, {"service": self.service})
        replies.raise_for_problems(f"close on group {self.gid}")
        totals = dict.fromkeys(("sent", "done", "errors", "late"), 0)
        for reply in replies.by_worker.values():
            for k in totals:
                totals[k] += int(reply.data.get(k, 0))
        return totals
