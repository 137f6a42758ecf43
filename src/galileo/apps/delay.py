"""A configurable per-response delay (``galileo app serve --delay 10ms --jitter 2ms``).

Every answer except ``GET /health`` waits ``delay ± jitter`` (uniform, never negative, like
``tc netem``'s default jitter) on the event loop's timer: other connections are served meanwhile.
It stands in for link latency on kernels without ``netem``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from galileo.apps.http import Handler, Request, Response
from galileo.apps.router import Router
from galileo.errors import ValidationError
from galileo.units import parse_duration_s

__all__ = ["DelayedRouter", "ResponseDelay"]

UNDELAYED_PATHS = frozenset({"/health"})  # readiness probes answer at once


@dataclass(frozen=True)
class ResponseDelay:
    """``delay_s ± jitter_s`` (uniform); ``rng`` is a seam for tests."""

    delay_s: float
    jitter_s: float = 0.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.delay_s < 0 or self.jitter_s < 0:
            raise ValidationError("--delay and --jitter must not be negative.")
        if self.jitter_s and not self.delay_s:
            raise ValidationError("--jitter needs a --delay to vary around.")

    @classmethod
    def parse(cls, delay: str, jitter: str = "") -> ResponseDelay | None:
        """From option text (``"10ms"``, ``"2ms"``); ``None`` when no delay is asked for."""
        delay_s = parse_duration_s(delay, "--delay") if delay else 0.0
        jitter_s = parse_duration_s(jitter, "--jitter") if jitter else 0.0
        made = cls(delay_s, jitter_s)
        return made if made.delay_s > 0 else None

    def sample(self) -> float:
        """One delay in seconds."""
        if not self.jitter_s:
            return self.delay_s
        return max(0.0, self.delay_s + self.rng.uniform(-self.jitter_s, self.jitter_s))


class DelayedRouter(Router):
    """Routes like ``inner`` and delays each answer (``/health`` excepted)."""

    def __init__(self, inner: Router, delay: ResponseDelay) -> None:
        super().__init__()
        self._inner = inner
        self.delay = delay

    def routes(self) -> list[tuple[str, str]]:
        return self._inner.routes()

    def resolve(self, method: str, path: str) -> Handler:
        handler = self._inner.resolve(method, path)
        if path in UNDELAYED_PATHS:
            return handler
        wait_s = self.delay.sample()

        async def delayed(req: Request) -> Response:
            due = time.monotonic() + wait_s
            await asyncio.sleep(wait_s)
            # uvloop's timers have millisecond granularity and may wake a little early: the
            # answer waits at least the delay, by the monotonic clock
            while (left := due - time.monotonic()) > 0:
                await asyncio.sleep(left)
            return await handler(req)

        return delayed
