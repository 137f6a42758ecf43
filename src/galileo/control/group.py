"""``ClientGroup``: a handle on clients spread over workers, driven through commands.

Commands reply per worker: live workers' answers are used as they arrive, and a worker whose
liveness key expired (it died) is reported by name within ``WORKER_TTL_S`` instead of holding
the command until its timeout. A group that lost a worker either moves the lost share of its
rate to the remaining workers (``WorkerLossPolicy.REPLACE``, the default; ``group_replaced``
event) or runs on without it (``DEGRADE``; ``group_degraded`` event). Whoever notices first --
the controller sending a command or the watchdog in ``galileo recorder`` -- applies the change,
once (the group record is updated under ``WATCH``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from galileo.bus import transact
from galileo.errors import BusError, ValidationError, WorkerError
from galileo.events import as_bytes
from galileo.protocol import (
    Burst,
    CloseGroup,
    Command,
    EventKind,
    GroupInfo,
    Pause,
    Resume,
    SetRate,
    WorkerLossPolicy,
    decode_group_info,
    encode,
)

from .commands import Replies
from .placement import split_count, split_rate
from .stats import SecondStats, read_stats

if TYPE_CHECKING:
    from galileo.bus import Bus
    from galileo.events import EventLog
    from galileo.protocol import Keys

    from .commands import Commander


class GroupHost(Protocol):
    """What a group needs of its controller (:class:`~galileo.control.Galileo` is one)."""

    redis: Bus
    keys: Keys
    commander: Commander
    events: EventLog

STATS_TTL_AFTER_CLOSE_S = 600


@dataclass(frozen=True)
class RateChange:
    """The outcome of :meth:`ClientGroup.rps`: per-worker shares and send→applied latencies."""

    total: float
    shares: dict[str, float]
    latency_ms: dict[str, float]
    lost: list[str] = field(default_factory=list)  # workers found dead by this command

    @property
    def max_latency_ms(self) -> float:
        return max(self.latency_ms.values(), default=0.0)


class GroupTotals(dict[str, int]):
    """What :meth:`ClientGroup.close` returns: ``sent``, ``done``, ``errors``, ``late`` summed
    over the workers that answered; ``lost`` names the workers the group had lost."""

    lost: list[str]

    def __init__(self, totals: dict[str, int], lost: list[str]) -> None:
        super().__init__(totals)
        self.lost = lost


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

    def __init__(self, g: GroupHost, info: GroupInfo) -> None:
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

    @property
    def lost(self) -> list[str]:
        """Workers this group lost (dead while hosting a share)."""
        return sorted(self._info.lost)

    @property
    def degraded(self) -> bool:
        """True when the group lost workers and did not move their share elsewhere."""
        return bool(self._info.lost) and self._info.on_worker_loss == WorkerLossPolicy.DEGRADE

    def _counts(self) -> dict[str, int]:
        return {w: len(c) for w, c in self._info.placement.items()}

    def _rate_split(self, total: float) -> dict[str, float]:
        """Per live worker shares of ``total``: over the live workers (REPLACE) or over the
        original placement, lost workers included (DEGRADE: the lost share is not sent)."""
        counts = self._counts()
        if self._info.on_worker_loss == WorkerLossPolicy.DEGRADE:
            shares = split_rate(total, {**counts, **{w: len(c) for w, c in
                                                     self._info.lost.items()}})
            return {w: shares[w] for w in counts}
        return split_rate(total, counts)

    def __repr__(self) -> str:
        return (f"<ClientGroup {self.gid[:8]} service={self.service} clients={len(self.clients)}"
                f" workers={self.workers} rps={self.target_rps:g}>")

    # ------------------------------------------------------------------ commands
    def _send(self, build: Any, what: str, timeout: float, rate: float | None = None) -> Replies:
        """Send a command to every live worker of the group; dead ones are handed to
        :meth:`handle_lost` (then the command is resent to the workers that took over)."""
        self._refresh()
        if not self._info.placement:
            raise WorkerError(f"{what} on group {self.gid}: every worker of the group was lost "
                              f"({', '.join(self.lost)})")
        corr = self._g.commander.new_corr()
        commands: dict[str, Command] = {w: build(w, corr) for w in self.workers}
        replies = self._g.commander.send(commands, timeout=timeout, corr=corr)
        replies.raise_for_problems(f"{what} on group {self.gid}", lost_ok=True)
        if replies.lost:
            self.handle_lost(replies.lost, rate=rate)
        return replies

    def _refresh(self) -> None:
        """Adopt the stored record (another controller or the watchdog may have changed the
        placement); when Redis lost it (restarted empty), store this handle's copy again."""
        raw = self._g.redis.hget(self._g.keys.group(self.gid), "info")
        if raw:
            self._info = decode_group_info(as_bytes(raw))
        else:
            with self._g.redis.pipeline() as pipe:
                pipe.hset(self._g.keys.group(self.gid), "info", encode(self._info))
                pipe.sadd(self._g.keys.groups, self.gid)
                pipe.execute()

    def _save(self, **changes: Any) -> None:
        self._info = msgspec.structs.replace(self._info, **changes)
        self._g.redis.hset(self._g.keys.group(self.gid), "info", encode(self._info))

    def rps(self, total: float, ramp: float = 0.0, timeout: float = 10.0) -> RateChange:
        """Set the whole group's rate (requests/s), split over workers by client count."""
        if not total >= 0 or total == float("inf") or ramp < 0:
            raise ValidationError(f"rate {total!r} (ramp {ramp!r}) for group {self.gid} must be "
                                  "finite and >= 0")
        replies = self._send(lambda w, c: SetRate(corr=c, gid=self.gid,
                                                  rps=self._rate_split(float(total))[w],
                                                  ramp_s=float(ramp), sent_ns=time.time_ns()),
                             "rps", timeout, rate=float(total))
        latency = {w: max(r.applied_ns - replies.sent_ns, 0) / 1e6
                   for w, r in replies.by_worker.items()}
        self._save(rps=float(total))
        self._g.events.append(EventKind.GROUP_RATE, self.gid,
                              {"service": self.service, "rps": float(total), "ramp_s": ramp,
                               "latency_ms": latency, "lost": replies.lost},
                              exp_id=self._info.exp_id)
        return RateChange(float(total), self._rate_split(float(total)), latency,
                          list(replies.lost))

    # ------------------------------------------------------------------ lost workers
    def check_workers(self) -> list[str]:
        """Find workers of this group whose liveness expired and handle them (see
        :meth:`handle_lost`); returns the workers this call found lost."""
        self._refresh()
        dead = self._g.commander.dead(self.workers)
        return self.handle_lost(dead) if dead else []

    def handle_lost(self, dead: list[str], timeout: float = 5.0,
                    rate: float | None = None) -> list[str]:
        """Remove ``dead`` workers from the placement and apply the loss policy to the group's
        rate (or ``rate``); returns the workers this call removed (none when another
        controller already did)."""
        removed = self._remove_workers(dead)
        if not removed:
            return []
        events = self._g.events
        for w in removed:
            events.append(EventKind.WORKER_LOST, w, {"gid": self.gid, "service": self.service,
                                                     "clients": len(self._info.lost[w])},
                          exp_id=self._info.exp_id)
        data: dict[str, Any] = {"service": self.service, "lost": removed,
                                "workers": self.workers}
        if not self._info.placement:
            events.append(EventKind.GROUP_DEGRADED, self.gid, {**data, "rps_now": 0.0},
                          exp_id=self._info.exp_id)
            return removed
        shares = self._rate_split(self._info.rps if rate is None else rate)
        if self._info.on_worker_loss == WorkerLossPolicy.DEGRADE:
            events.append(EventKind.GROUP_DEGRADED, self.gid,
                          {**data, "rps_now": sum(shares.values())}, exp_id=self._info.exp_id)
            return removed
        corr = self._g.commander.new_corr()
        commands: dict[str, Command] = {
            w: SetRate(corr=corr, gid=self.gid, rps=shares[w], sent_ns=time.time_ns())
            for w in self.workers}
        replies = self._g.commander.send(commands, timeout=timeout, corr=corr)
        data["unanswered"] = sorted(replies.silent + replies.lost)
        events.append(EventKind.GROUP_REPLACED, self.gid, {**data, "shares": shares},
                      exp_id=self._info.exp_id)
        return removed

    def handle_returned(self, alive: set[str], timeout: float = 2.0) -> list[str]:
        """Lost workers that are alive again: with REPLACE their share was moved, so it is
        closed on them -- unless no live worker was left to take it (the group had only lost
        workers): then, as with DEGRADE, the group takes them back at their share of the
        current rate. A worker that no longer knows the group (a new process) is just
        forgotten. Returns the workers handled; records ``group_rejoined``."""
        back = sorted(w for w in self._info.lost if w in alive)
        if not back:
            return []
        corr = self._g.commander.new_corr()
        rejoin = (self._info.on_worker_loss == WorkerLossPolicy.DEGRADE
                  or not self._info.placement)  # nobody carried the share meanwhile
        lost_shares = split_rate(self._info.rps, {**self._counts(), **{
            w: len(c) for w, c in self._info.lost.items()}})
        commands: dict[str, Command] = {
            w: (SetRate(corr=corr, gid=self.gid, rps=lost_shares[w], sent_ns=time.time_ns())
                if rejoin else CloseGroup(corr=corr, gid=self.gid)) for w in back}
        replies = self._g.commander.send(commands, timeout=timeout, corr=corr)
        took = sorted(w for w, r in replies.by_worker.items() if r.ok)
        info = self._info
        placement = {**info.placement, **{w: info.lost[w] for w in took}} if rejoin else (
            info.placement)
        self._info = msgspec.structs.replace(
            info, placement=placement, lost={w: c for w, c in info.lost.items()
                                             if w not in replies.by_worker})
        self._g.redis.hset(self._g.keys.group(self.gid), "info", encode(self._info))
        if replies.by_worker:
            self._g.events.append(EventKind.GROUP_REJOINED, self.gid, {
                "service": self.service, "workers": sorted(replies.by_worker),
                "taken_back": took if rejoin else [], "closed": [] if rejoin else took},
                exp_id=info.exp_id)
        return sorted(replies.by_worker)

    def _remove_workers(self, dead: list[str]) -> list[str]:
        """Drop ``dead`` from the stored placement atomically; the workers actually removed."""
        key = self._g.keys.group(self.gid)

        def step(pipe: Any) -> list[str]:
            raw = pipe.hget(key, "info")
            info = decode_group_info(as_bytes(raw)) if raw else self._info
            removed = sorted(w for w in set(dead) if w in info.placement)
            if not removed:
                self._info = info
                return []
            placement = {w: c for w, c in info.placement.items() if w not in removed}
            lost = {**info.lost, **{w: info.placement[w] for w in removed}}
            new = msgspec.structs.replace(info, placement=placement, lost=lost)
            pipe.multi()
            pipe.hset(key, "info", encode(new))
            self._info = new
            return removed

        try:
            return transact(self._g.redis, [key], step, what=f"group {self.gid}")
        except BusError as e:
            raise BusError(f"cannot update group {self.gid} after losing {dead}: {e}") from None

    def pause(self, timeout: float = 10.0) -> None:
        """Stop sending (in-flight requests complete); :meth:`resume` continues."""
        self._send(lambda w, c: Pause(corr=c, gid=self.gid), "pause", timeout)
        self._save(paused=True)
        self._g.events.append(EventKind.GROUP_PAUSE, self.gid, {"service": self.service})

    def resume(self, timeout: float = 10.0) -> None:
        self._send(lambda w, c: Resume(corr=c, gid=self.gid), "resume", timeout)
        self._save(paused=False)
        self._g.events.append(EventKind.GROUP_RESUME, self.gid, {"service": self.service})

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

    def close(self, timeout: float = 10.0) -> GroupTotals:
        """Stop and remove the group on its workers and forget it. In-flight requests get a
        moment to finish. Returns the group's totals (``sent``, ``done``, ``errors``, ``late``)
        summed over the live workers; ``.lost`` names the workers that were lost."""
        self._refresh()
        corr = self._g.commander.new_corr()
        # lost workers too: one that came back would otherwise send for a closed group
        commands: dict[str, Command] = {w: CloseGroup(corr=corr, gid=self.gid)
                                        for w in [*self.workers, *self._info.lost]}
        replies = self._g.commander.send(commands, timeout=timeout, corr=corr)
        failed = replies.failed()
        for w in self._info.lost:  # known lost already; a refusal means its share is gone
            if w in failed:
                del replies.by_worker[w]
            if w in replies.lost:
                replies.lost.remove(w)
        if replies.lost:
            for w in replies.lost:
                self._g.events.append(EventKind.WORKER_LOST, w,
                                      {"gid": self.gid, "service": self.service},
                                      exp_id=self._info.exp_id)
        keys = self._g.keys
        with self._g.redis.pipeline() as pipe:
            pipe.delete(keys.group(self.gid))
            pipe.srem(keys.groups, self.gid)
            pipe.expire(keys.group_stats(self.gid), STATS_TTL_AFTER_CLOSE_S)
            pipe.execute()
        self._g.events.append(EventKind.GROUP_CLOSE, self.gid, {"service": self.service},
                              exp_id=self._info.exp_id)
        replies.raise_for_problems(f"close on group {self.gid}", lost_ok=True)
        totals = dict.fromkeys(("sent", "done", "errors", "late"), 0)
        for reply in replies.by_worker.values():
            for k in totals:
                totals[k] += int(reply.data.get(k, 0))
        return GroupTotals(totals, sorted({*self._info.lost, *replies.lost}))
