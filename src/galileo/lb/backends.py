"""Backends of one service and their live state: weight, outstanding requests, peak-EWMA
latency and health (passive ejection with back-off, active-check verdicts).

A :class:`Backend` keeps its state across routing updates that keep its address; the routing
weights are those of the record (exact floats; policies that need integers use
:func:`galileo.balancing.integer_weights`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from galileo.protocol import RoutingRecord

__all__ = ["Backend", "HealthConfig", "ServiceBackends"]

EWMA_DECAY_NS: Final = 10_000_000_000  # peak-EWMA time constant (10 s, as in Finagle/linkerd)
EWMA_START_NS: Final = 1_000_000  # assumed latency of a backend never measured (1 ms)


@dataclass(frozen=True, kw_only=True)
class HealthConfig:
    """Passive ejection: ``max_failures`` consecutive errors/timeouts put a backend out for
    ``backoff_s`` (doubling on each re-ejection up to ``max_backoff_s``)."""

    max_failures: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0


class Backend:
    """One upstream ``host:port`` of a service."""

    __slots__ = (
        "_cost_ns",
        "_stamp_ns",
        "active_ok",
        "address",
        "ejections",
        "failures",
        "index",
        "out_until_ns",
        "outstanding",
        "weight",
    )

    def __init__(self, address: str, weight: float, index: int = 0) -> None:
        self.address = address
        self.weight = weight
        self.index = index
        self.outstanding = 0
        self.failures = 0  # consecutive
        self.ejections = 0  # consecutive ejections (grows the back-off)
        self.out_until_ns = 0  # passive ejection: out until this monotonic time
        self.active_ok = True  # verdict of the last active check (True without checks)
        self._cost_ns = float(EWMA_START_NS)
        self._stamp_ns = 0

    def healthy(self, now_ns: int) -> bool:
        return self.active_ok and now_ns >= self.out_until_ns

    # ------------------------------------------------------------------ outcomes
    def started(self) -> None:
        self.outstanding += 1

    def finished(self, ok: bool, latency_ns: int, now_ns: int, health: HealthConfig) -> None:
        """Account a finished request: ``ok`` False for an error or timeout."""
        self.outstanding -= 1
        # peak EWMA: jump up to a slower sample at once, decay towards faster ones
        if latency_ns > self._cost_ns:
            self._cost_ns = float(latency_ns)
        else:
            w = math.exp(-max(now_ns - self._stamp_ns, 0) / EWMA_DECAY_NS)
            self._cost_ns = self._cost_ns * w + latency_ns * (1.0 - w)
        self._stamp_ns = now_ns
        if ok:
            self.failures = 0
            self.ejections = 0
            return
        self.failures += 1
        if self.failures >= health.max_failures and now_ns >= self.out_until_ns:
            backoff = min(health.backoff_s * 2 ** self.ejections, health.max_backoff_s)
            self.out_until_ns = now_ns + int(backoff * 1e9)
            self.ejections += 1
            self.failures = 0

    @property
    def ewma_ns(self) -> float:
        return self._cost_ns

    def __repr__(self) -> str:
        return f"Backend({self.address!r}, weight={self.weight}, outstanding={self.outstanding})"


class ServiceBackends:
    """The backends of one service, as the routing table names them now."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.backends: list[Backend] = []
        self._weighted: list[Backend] = []  # weight > 0 (recomputed on every update)
        self.version = -1
        self.generation = 0  # bumped on every change; policies cache per generation

    def update(self, record: RoutingRecord | None) -> None:
        """Take the hosts and weights of ``record`` (None: the service has no route now)."""
        old = {b.address: b for b in self.backends}
        fresh: list[Backend] = []
        if record is not None:
            for i, (host, weight) in enumerate(zip(record.hosts, record.weights, strict=True)):
                b = old.get(host) or Backend(host, float(weight))
                b.weight = float(weight)
                b.index = i
                fresh.append(b)
            self.version = record.version
        self.backends = fresh
        self._weighted = [b for b in fresh if b.weight > 0]
        self.generation += 1

    def candidates(self, now_ns: int | None = None) -> Sequence[Backend]:
        """Backends with a weight > 0 that are healthy; empty when all are out."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        weighted = self._weighted
        for b in weighted:
            if not (b.active_ok and now >= b.out_until_ns):  # (healthy(), inlined)
                return [b for b in weighted if b.healthy(now)]
        return weighted  # all healthy (the usual case): the same list until the next update

    def find(self, address: str) -> Backend | None:
        for b in self.backends:
            if b.address == address:
                return b
        return None
