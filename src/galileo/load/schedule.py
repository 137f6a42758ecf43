"""Open-loop schedule: the intended send time of every request, from an absolute plan.

Times are integers in nanoseconds of whatever monotonic clock the caller uses (the scheduler
never reads a clock itself, so tests run in virtual time exactly). The rate is piecewise: a
segment starts at an anchor ``(anchor_ns, anchor_u)`` where ``anchor_u`` is the integrated rate
so far, ramps linearly from ``r0`` to ``r1`` over ``ramp_s`` seconds and then stays at ``r1``.
The k-th arrival is at the time where the integrated rate reaches ``U_k``, the sum of the first
k unit intervals of the :class:`~galileo.load.arrivals.ArrivalProcess`. Every time is computed
from the anchor, never by adding to the previous send, so there is no cumulative drift; a
constant 1000 req/s gives arrivals at exactly 1 ms, 2 ms, …, 10 000 ms.
"""

from __future__ import annotations

import math

from galileo.errors import ValidationError
from galileo.load.arrivals import ArrivalProcess

NS_PER_S = 1_000_000_000


class Schedule:
    """Intended send times for one arrival process under a changing rate (req/s)."""

    def __init__(
        self,
        arrivals: ArrivalProcess,
        rate: float,
        start_ns: int,
        *,
        limit: int | None = None,
    ) -> None:
        _check_rate(rate)
        self._arrivals = arrivals
        self._limit = limit
        self.count = 0  # arrivals handed out by pop()
        self._anchor_ns = start_ns
        self._anchor_u = 0.0
        self._r0 = float(rate)
        self._r1 = float(rate)
        self._ramp_s = 0.0
        self._paused_at: int | None = None
        self._next_u = arrivals.next_unit()
        self._next_ns: int | None = None
        self._stale = True

    # ------------------------------------------------------------------ queries
    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    @property
    def exhausted(self) -> bool:
        """True once ``limit`` arrivals were handed out."""
        return self._limit is not None and self.count >= self._limit

    @property
    def target_rate(self) -> float:
        """The rate the schedule is at or ramping to."""
        return self._r1

    def rate_at(self, t_ns: int) -> float:
        """The instantaneous rate at ``t_ns`` (0 while paused)."""
        if self._paused_at is not None:
            return 0.0
        tau = max(0.0, (t_ns - self._anchor_ns) / NS_PER_S)
        if tau >= self._ramp_s:
            return self._r1
        return self._r0 + (self._r1 - self._r0) * tau / self._ramp_s

    def peek(self) -> int | None:
        """The next intended time, or None (paused, rate 0 for good, or limit reached)."""
        if self._stale:
            self._next_ns = self._solve()
            self._stale = False
        return self._next_ns

    def pop(self) -> int:
        """Consume and return the next intended time (call only when :meth:`peek` is not None)."""
        t = self.peek()
        if t is None:
            raise ValidationError("the schedule has no next arrival")
        self.count += 1
        self._next_u += self._arrivals.next_unit()
        self._stale = True
        return t

    # ------------------------------------------------------------------ changes
    def set_rate(self, rate: float, now_ns: int, ramp_s: float = 0.0) -> None:
        """Change the rate at ``now_ns``: at once, or linearly over ``ramp_s`` seconds."""
        _check_rate(rate)
        if ramp_s < 0 or not math.isfinite(ramp_s):
            raise ValidationError(f"ramp duration {ramp_s!r} must be a finite number >= 0")
        at = self._paused_at if self._paused_at is not None else now_ns
        r_now = self._rate_when_running(at)
        self._rebase(at)
        self._r0, self._r1, self._ramp_s = r_now, float(rate), float(ramp_s)
        if ramp_s == 0:
            self._r0 = self._r1

    def pause(self, now_ns: int) -> None:
        if self._paused_at is None:
            self._rebase_keep_ramp(now_ns)
            self._paused_at = now_ns
            self._stale = True

    def resume(self, now_ns: int) -> None:
        if self._paused_at is not None:
            self._anchor_ns = now_ns
            self._paused_at = None
            self._stale = True

    # ------------------------------------------------------------------ internals
    def _rate_when_running(self, t_ns: int) -> float:
        paused, self._paused_at = self._paused_at, None
        try:
            return self.rate_at(t_ns)
        finally:
            self._paused_at = paused

    def _integral(self, tau: float) -> float:
        """Unit time elapsed ``tau`` seconds after the anchor."""
        r0, r1, ramp = self._r0, self._r1, self._ramp_s
        if tau <= ramp:
            return r0 * tau + (r1 - r0) * tau * tau / (2.0 * ramp) if ramp > 0 else 0.0
        return (r0 + r1) * ramp / 2.0 + r1 * (tau - ramp)

    def _rebase(self, t_ns: int) -> None:
        tau = max(0.0, (t_ns - self._anchor_ns) / NS_PER_S)
        self._anchor_u += self._integral(tau)
        self._anchor_ns = t_ns
        self._stale = True

    def _rebase_keep_ramp(self, t_ns: int) -> None:
        """Re-anchor at ``t_ns`` keeping the rest of a running ramp."""
        tau = max(0.0, (t_ns - self._anchor_ns) / NS_PER_S)
        r_now = self.rate_at(t_ns)
        remaining = max(0.0, self._ramp_s - tau)
        self._rebase(t_ns)
        self._r0, self._ramp_s = (r_now, remaining) if remaining > 0 else (self._r1, 0.0)

    def _solve(self) -> int | None:
        if self._paused_at is not None or self.exhausted:
            return None
        du = self._next_u - self._anchor_u
        if du <= 0:
            return self._anchor_ns
        r0, r1, ramp = self._r0, self._r1, self._ramp_s
        end_u = (r0 + r1) * ramp / 2.0
        if ramp > 0 and du <= end_u:
            a = (r1 - r0) / (2.0 * ramp)
            disc = r0 * r0 + 4.0 * a * du
            tau = 2.0 * du / (r0 + math.sqrt(max(0.0, disc)))
        elif r1 > 0:
            tau = ramp + (du - end_u) / r1
        else:
            return None
        return self._anchor_ns + round(tau * NS_PER_S)


def _check_rate(rate: float) -> None:
    if not isinstance(rate, int | float) or not math.isfinite(rate) or rate < 0:
        raise ValidationError(f"rate {rate!r} must be a finite number of requests/s >= 0")
