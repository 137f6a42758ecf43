"""One client group in one process: open-loop sends on a :class:`Schedule`, bounded in flight.

The group's rate is split evenly over its clients by assigning consecutive arrivals of one
schedule to the clients in turn (each client sees ``rate / n``; arrivals stay evenly spaced).
When ``max_inflight`` requests are outstanding, a due request is *held* and sent as soon as a
response frees a slot: it is never dropped, its lag (sent − intended) shows in its trace and it
counts as ``late`` (as does any request sent more than ``LATE_NS`` after its intended time).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from itertools import count
from typing import Final

from galileo.errors import GalileoError, ValidationError
from galileo.load.arrivals import ArrivalProcess
from galileo.load.httpclient import Callback, HttpClient
from galileo.load.requests import RequestGenerator, RequestSource
from galileo.load.schedule import NS_PER_S, Schedule
from galileo.load.stats import StatsWindow
from galileo.protocol import (
    ArrivalKind,
    ArrivalSpec,
    GroupStats,
    RequestSpec,
    Trace,
    TraceStatus,
    request_failed,
)

log = logging.getLogger(__name__)

LATE_NS: Final = 1_000_000
# how long before an intended send time the group stops sleeping and polls the loop
SPIN_WINDOW_NS: Final = 1_500_000
CLOSE_DRAIN_S: Final = 2.0  # how long close() lets in-flight requests finish
MAX_SENDS_PER_TICK: Final = 2_000

Resolver = Callable[[str], str | None]
TraceSink = Callable[[Trace], None]
Clock = Callable[[], int]

_NO_ROUTE: Final = TraceStatus.NO_ROUTE.value
_ERROR: Final = TraceStatus.ERROR.value
_CANCELLED: Final = TraceStatus.CANCELLED.value


class TraceContext:
    """What every trace of a process is tagged with; the worker updates it in place."""

    __slots__ = ("exp_id", "tracing", "worker")

    def __init__(self, worker: str, exp_id: str | None = None, tracing: bool = True) -> None:
        self.worker = worker
        self.exp_id = exp_id
        self.tracing = tracing


_ids = count()
_id_prefix = os.urandom(6).hex()


def next_request_id() -> str:
    """A cluster-unique request id: a random per-process prefix and a counter."""
    return f"{_id_prefix}{next(_ids):x}"


class LoadGroup:
    """The load of one client group in this process: drives the clients of the group's share
    placed here (the controller's handle of the whole group is
    :class:`galileo.control.ClientGroup`); call :meth:`start`, then :meth:`close`."""

    def __init__(
        self,
        *,
        gid: str,
        service: str,
        clients: Sequence[str],
        request: RequestSpec,
        arrival: ArrivalSpec,
        rps: float,
        resolve: Resolver,
        context: TraceContext,
        emit: TraceSink,
        max_inflight: int = 1000,
        timeout_s: float = 10.0,
        exp_id: str | None = None,
        clock: Clock = time.monotonic_ns,
        generator: RequestGenerator | None = None,
    ) -> None:
        if max_inflight < 1:
            raise ValidationError(f"group {gid}: max_inflight {max_inflight} must be >= 1")
        self.gid = gid
        self.service = service
        self.clients = list(clients)
        self.max_inflight = max_inflight
        self._resolve = resolve
        self._ctx = context
        self._exp_id = exp_id  # overrides the context's experiment for this group
        self._emit = emit
        self._clock = clock
        self._wall_offset = time.time_ns() - clock()
        self._source = RequestSource(request, generator)
        self._reported: set[str] = set()  # request-building errors already logged
        self._http = HttpClient(timeout_s=timeout_s)
        arrivals = ArrivalProcess(arrival)
        if rps <= 0 and arrival.kind == ArrivalKind.TRACE and arrivals.native_rate and clients:
            rps = arrivals.native_rate
        if not self.clients:
            rps = 0.0
        self.schedule = Schedule(arrivals, rps, clock(), limit=arrival.limit)
        self.stats = StatsWindow()
        self.inflight = 0
        self._totals = [0, 0, 0, 0]  # sent, done, errors, late of the seconds already taken
        self._held: deque[int] = deque()
        self._rr = 0
        self._timer: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._arm()

    def set_rate(self, rps: float, ramp_s: float = 0.0) -> None:
        self.schedule.set_rate(rps if self.clients else 0.0, self._clock(), ramp_s)
        self._arm()

    def pause(self) -> None:
        self.schedule.pause(self._clock())
        self._arm()

    def resume(self) -> None:
        self.schedule.resume(self._clock())
        self._arm()

    async def burst(self, n: int) -> tuple[int, int]:
        """Send ``n`` requests closed-loop (back to back per client); ``(ok, errors)``."""
        if n <= 0 or not self.clients or self.closed:
            return 0, 0
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[int, int]] = loop.create_future()
        k = len(self.clients)
        shares = [n // k + (1 if i < n % k else 0) for i in range(k)]
        state = [0, 0, sum(shares)]  # ok, errors, remaining

        def chain(cid: str, left: int) -> Callable[[bool], None]:
            def next_one(ok: bool) -> None:
                state[0 if ok else 1] += 1
                state[2] -= 1
                if state[2] == 0 and not fut.done():
                    fut.set_result((state[0], state[1]))
                elif left > 0 and not self.closed:
                    now = self._clock()
                    self._send(now, now, cid, False, chain(cid, left - 1))
            return next_one

        now = self._clock()
        for cid, share in zip(self.clients, shares, strict=True):
            if share:
                self._send(now, now, cid, False, chain(cid, share - 1))
        return await fut

    async def close(self, drain_s: float = CLOSE_DRAIN_S) -> dict[str, int]:
        """Stop sending; requests held back by the in-flight bound (never sent) are traced as
        ``cancelled``; requests in flight get up to ``drain_s`` to finish, then are cancelled.
        Returns the group's totals since it started."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._clock()
        while self._held:
            intended = self._held.popleft()
            self._trace(self._exp_id or self._ctx.exp_id, intended, now, now, self.clients[0],
                        "", "", "", 0, _CANCELLED, 0)
            self.stats.errors += 1
        deadline = self._clock() + int(drain_s * NS_PER_S)
        while self.inflight > 0 and self._clock() < deadline:
            await asyncio.sleep(0.005)
        self._http.close()
        await asyncio.sleep(0)
        return self.totals()

    def totals(self) -> dict[str, int]:
        """Requests sent, done, errors and late since the group started."""
        w = self.stats
        t = self._totals
        return {"sent": t[0] + w.sent, "done": t[1] + w.done, "errors": t[2] + w.errors,
                "late": t[3] + w.late}

    def take_stats(self, second: int) -> GroupStats:
        """This second's :class:`GroupStats` (counters reset)."""
        sent, done, errors, late, hi, ha = self.stats.take()
        t = self._totals
        t[0] += sent
        t[1] += done
        t[2] += errors
        t[3] += late
        return GroupStats(
            gid=self.gid, worker=self._ctx.worker, second=second,
            target_rps=self._planned_rate(),
            sent=sent, done=done, errors=errors, late=late, inflight=self.inflight,
            hist_intended=hi, hist_actual=ha,
        )

    def _planned_rate(self) -> float:
        """The schedule's mean rate over the last second (ramps included)."""
        now = self._clock()
        return 0.5 * (self.schedule.rate_at(now - NS_PER_S) + self.schedule.rate_at(now))

    # ------------------------------------------------------------------ open loop
    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.closed or self._loop is None:
            return
        t = self.schedule.peek()
        if t is None:
            return
        delay_ns = t - self._clock()
        if delay_ns > SPIN_WINDOW_NS:
            # event-loop timers fire to the millisecond: wake up early, then poll
            self._timer = self._loop.call_later((delay_ns - SPIN_WINDOW_NS) / NS_PER_S,
                                                self._tick)
        else:
            # within the last SPIN_WINDOW_NS: re-check on every loop turn (I/O still runs
            # between checks), so a request leaves within a loop turn of its intended time
            self._timer = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self._timer = None
        now = self._clock()
        sched = self.schedule
        clients = self.clients
        for _ in range(MAX_SENDS_PER_TICK):
            t = sched.peek()
            if t is None or t > now:
                break
            sched.pop()
            if self.inflight >= self.max_inflight:
                self._held.append(t)
                continue
            cid = clients[self._rr]
            self._rr = (self._rr + 1) % len(clients)
            self._send(t, self._clock(), cid, False, None)
        self._arm()

    def _send(
        self, intended: int, sent: int, cid: str, held: bool, then: Callable[[bool], None] | None
    ) -> None:
        stats = self.stats
        exp_id = self._exp_id or self._ctx.exp_id  # the experiment at SEND time tags the trace
        host = self._resolve(self.service)
        if host is None:
            stats.errors += 1
            self._trace(exp_id, intended, sent, sent, cid, "", "", "", 0, _NO_ROUTE, 0)
            if then is not None:
                then(False)
            return
        try:
            method, path, data = self._source.next(host)
        except GalileoError as e:
            if str(e) not in self._reported:  # once per distinct error, not per request
                self._reported.add(str(e))
                log.error("group %s: %s", self.gid, e)
            stats.errors += 1
            self._trace(exp_id, intended, sent, sent, cid, host, "", "", 0, _ERROR, 0)
            if then is not None:
                then(False)
            return
        stats.sent += 1
        if held or sent - intended > LATE_NS:
            stats.late += 1
        self.inflight += 1
        self._http.send(host, data,
                        self._on_done(exp_id, intended, sent, cid, host, method, path, then))

    def _on_done(
        self, exp_id: str | None, intended: int, sent: int, cid: str, host: str, method: str,
        path: str, then: Callable[[bool], None] | None,
    ) -> Callback:
        def done(status: int, nbytes: int, error: str) -> None:
            now = self._clock()
            self.inflight -= 1
            stats = self.stats
            ok = not request_failed(status, error)
            if status:
                stats.done += 1
                stats.record(now - intended, now - sent)
            if not ok:
                stats.errors += 1
            if self._ctx.tracing:
                self._trace(exp_id, intended, sent, now, cid, host, method, path, status, error,
                            nbytes)
            if then is not None:
                then(ok)
            elif self._held and not self.closed:
                cid2 = self.clients[self._rr]
                self._rr = (self._rr + 1) % len(self.clients)
                self._send(self._held.popleft(), self._clock(), cid2, True, None)
        return done

    def _trace(
        self, exp_id: str | None, intended: int, sent: int, done: int, cid: str, host: str,
        method: str, path: str, status: int, error: str, nbytes: int,
    ) -> None:
        if not self._ctx.tracing:
            return
        off = self._wall_offset
        ctx = self._ctx
        self._emit(Trace(
            request_id=next_request_id(), exp_id=exp_id,
            group_id=self.gid, client_id=cid,
            worker=ctx.worker, service=self.service, host=host,
            method=method or self._source.method, path=path or self._source.path,
            intended_ns=intended + off, sent_ns=sent + off, done_ns=done + off,
            status=status, error=error, bytes_received=nbytes,
        ))
