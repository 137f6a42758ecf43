"""Balancing policies: one small class each behind :class:`Policy`.

A policy picks one backend among the *candidates* the proxy hands it (the service's backends
with a weight > 0 that are healthy; never empty). Weights are the routing table's, exact:

* ``wrr`` -- smooth weighted round robin (:class:`galileo.balancing.SmoothWeightedRoundRobin`,
  the clients' algorithm), the default;
* ``least-outstanding`` -- fewest requests in flight per unit of weight;
* ``p2c`` -- power of two choices: two distinct candidates drawn by weight, the less loaded wins;
* ``ewma`` -- latency-aware: lowest peak-EWMA response time x (outstanding + 1) / weight;
* ``hash`` -- consistent hashing (weighted rendezvous) on a header (``hash,header=X-User``) or,
  without one or when the request lacks it, on the client address.

A researcher subclasses :class:`Policy` and loads it as ``module:Class[,key=value...]`` or by its
``name`` when it is defined in an allowed module, but only from a module allowed when the
balancer started (``galileo lb serve --allow-policy-module``): nothing is imported because a bus
message named it.
"""

from __future__ import annotations

import hashlib
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import ClassVar, Final, Protocol

from galileo.balancing import SmoothWeightedRoundRobin
from galileo.errors import ConfigError
from galileo.lb.backends import Backend
from galileo.plugins import PluginKind

__all__ = ["BUILTIN_POLICIES", "DEFAULT_POLICY", "Policy", "RequestInfo", "load_policy"]


class RequestInfo(Protocol):
    """What a policy may look at: a header (case-insensitive name) and the client address."""

    @property
    def client(self) -> str: ...

    def header(self, name: bytes) -> bytes | None: ...


class Policy(ABC):
    """Chooses a backend; ``options`` come from the policy spec (``name,key=value``)."""

    name: ClassVar[str] = ""

    def __init__(self, **options: str) -> None:
        if options:
            raise ConfigError(f"policy {self.name!r} takes no options, got {sorted(options)}.")

    @abstractmethod
    def choose(self, candidates: Sequence[Backend], request: RequestInfo) -> Backend:
        """One of ``candidates`` (never empty) for ``request``."""

    def describe(self) -> str:
        return self.name


class WeightedRoundRobin(Policy):
    """Smooth weighted round robin on the routing weights (the clients' algorithm)."""

    name = "wrr"
    MAX_PRECOMPUTED: Final = 4096  # periods up to this long are walked as a list

    def __init__(self, **options: str) -> None:
        super().__init__(**options)
        self._key: tuple[tuple[str, float], ...] = ()
        self._swrr: SmoothWeightedRoundRobin | None = None
        self._order: list[str] = []  # one period of the schedule (when short enough)
        self._by_address: dict[str, Backend] = {}
        self._cycle: list[Backend] = []  # ``_order`` as backends
        self._turn = 0
        self._last: Sequence[Backend] = ()  # kept: a list's identity is never reused meanwhile

    def choose(self, candidates: Sequence[Backend], request: RequestInfo) -> Backend:
        if candidates is not self._last or self._swrr is None:  # not the same list as before
            self._last = candidates
            key = tuple((b.address, b.weight) for b in candidates)
            if key != self._key or self._swrr is None:
                self._key = key
                swrr = self._swrr = SmoothWeightedRoundRobin([a for a, _ in key],
                                                             [w for _, w in key])
                self._order = ([swrr.next() for _ in range(swrr.period)]
                               if swrr.period <= self.MAX_PRECOMPUTED else [])
                self._turn = 0
            # the same addresses can come back as new Backend objects after a routing update
            self._by_address = {b.address: b for b in candidates}
            self._cycle = [self._by_address[a] for a in self._order]
        cycle = self._cycle
        if cycle:  # the schedule's period as a list: the next pick is an index
            turn = self._turn
            self._turn = turn + 1 if turn + 1 < len(cycle) else 0
            return cycle[turn]
        return self._by_address[self._swrr.next()]


class LeastOutstanding(Policy):
    """Fewest requests in flight per unit of weight."""

    name = "least-outstanding"

    def __init__(self, **options: str) -> None:
        super().__init__(**options)
        self._turn = 0

    def choose(self, candidates: Sequence[Backend], request: RequestInfo) -> Backend:
        n = len(candidates)
        self._turn = (self._turn + 1) % n  # rotate the start so that ties are spread
        best = candidates[self._turn]
        best_load = (best.outstanding + 1) / best.weight
        for i in range(1, n):
            b = candidates[(self._turn + i) % n]
            load = (b.outstanding + 1) / b.weight
            if load < best_load:
                best, best_load = b, load
        return best


class PowerOfTwo(Policy):
    """Power of two choices: two drawn by weight, the less loaded wins."""

    name = "p2c"

    def __init__(self, seed: str | None = None, **options: str) -> None:
        super().__init__(**options)
        self._rng = random.Random(None if seed is None else int(seed))

    def choose(self, candidates: Sequence[Backend], request: RequestInfo) -> Backend:
        if len(candidates) == 1:
            return candidates[0]
        weights = [b.weight for b in candidates]
        a = self._rng.choices(range(len(candidates)), weights)[0]
        rest = [i for i in range(len(candidates)) if i != a]
        b = self._rng.choices(rest, [weights[i] for i in rest])[0]
        x, y = candidates[a], candidates[b]
        return x if x.outstanding / x.weight <= y.outstanding / y.weight else y


class PeakEwma(Policy):
    """Latency-aware: lowest peak-EWMA response time x (in flight + 1) / weight."""

    name = "ewma"

    def choose(self, candidates: Sequence[Backend], request: RequestInfo) -> Backend:
        best = candidates[0]
        best_cost = math.inf
        for b in candidates:
            cost = b.ewma_ns * (b.outstanding + 1) / b.weight
            if cost < best_cost:
                best, best_cost = b, cost
        return best


class ConsistentHash(Policy):
    """Consistent hashing (weighted rendezvous) on a header or the client address."""

    name = "hash"

    def __init__(self, header: str | None = None, **options: str) -> None:
        super().__init__(**options)
        self.header = header.lower().encode("latin-1") if header else None

    def choose(self, candidates: Sequence[Backend], request: RequestInfo) -> Backend:
        value = request.header(self.header) if self.header else None
        key = value if value is not None else request.client.encode()
        best = candidates[0]
        best_score = -math.inf
        for b in candidates:
            digest = hashlib.blake2b(key + b"\0" + b.address.encode(), digest_size=8).digest()
            u = (int.from_bytes(digest, "big") + 1) / (2**64 + 2)  # in (0, 1)
            score = -b.weight / math.log(u)
            if score > best_score:
                best, best_score = b, score
        return best

    def describe(self) -> str:
        return f"hash,header={self.header.decode()}" if self.header else "hash"


BUILTIN_POLICIES: Final[dict[str, type[Policy]]] = {
    "wrr": WeightedRoundRobin,
    "least-outstanding": LeastOutstanding,
    "p2c": PowerOfTwo,
    "ewma": PeakEwma,
    "hash": ConsistentHash,
}
ALIASES: Final = {"round-robin": "wrr", "lor": "least-outstanding", "peak-ewma": "ewma",
                  "least-requests": "least-outstanding"}
DEFAULT_POLICY: Final = "wrr"


POLICIES: Final = PluginKind(
    "balancing policy", Policy, BUILTIN_POLICIES, aliases=ALIASES,
    allow_hint="give it with --allow-policy-module when the balancer starts")


def load_policy(spec: str, allowed_modules: Iterable[str] = ()) -> Policy:
    """Build the policy named by ``spec`` (``name[,key=value...]`` or ``module:Class[,...]``);
    a ``module:Class`` loads only when ``module`` is (inside) one of ``allowed_modules``.
    Raises :class:`ConfigError` with one sentence otherwise (:mod:`galileo.plugins`)."""
    return POLICIES.load(spec, allowed_modules)

