"""Arrival processes as streams of *unit* inter-arrival times (mean 1).

The scheduler (:mod:`galileo.load.schedule`) maps unit time to real time through the integrated
rate (time rescaling): the k-th arrival happens when the integral of the rate reaches the sum of
the first k unit intervals. At a constant rate ``r`` a unit interval ``u`` therefore lasts
``u / r`` seconds, and a rate change or ramp re-times every later arrival without drift.

Kinds (``protocol.ArrivalKind``):

* ``constant``: every unit interval is exactly 1.
* ``poisson``: exponential with mean 1 (``random.expovariate(1)``).
* ``distribution``: any ``random.Random`` method by name with ``params``, e.g.
  ``lognormvariate`` ``[0, 0.5]``; samples are divided by the distribution's mean, so the
  *mean* rate equals the requested rate while the shape (coefficient of variation) is kept.
  The mean is known analytically for the common distributions and estimated from 20,000 samples
  of a separately seeded generator otherwise. Negative samples are clamped to 0.
* ``trace``: prerecorded inter-arrival times in seconds, divided by their mean and replayed
  cyclically; :attr:`ArrivalProcess.native_rate` is the recorded rate (``1 / mean``).
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable, Sequence
from typing import Final

from galileo.errors import ValidationError
from galileo.protocol import ArrivalKind, ArrivalSpec

MEAN_ESTIMATE_SAMPLES: Final = 20_000

_MEANS: Final[dict[str, Callable[..., float]]] = {
    "expovariate": lambda lambd=1.0: 1.0 / lambd,
    "uniform": lambda a, b: (a + b) / 2.0,
    "triangular": lambda low=0.0, high=1.0, mode=None: (
        (low + high + (mode if mode is not None else (low + high) / 2.0)) / 3.0
    ),
    "lognormvariate": lambda mu, sigma: math.exp(mu + sigma * sigma / 2.0),
    "gammavariate": lambda alpha, beta: alpha * beta,
    "betavariate": lambda alpha, beta: alpha / (alpha + beta),
    "weibullvariate": lambda alpha, beta: alpha * math.gamma(1.0 + 1.0 / beta),
    "paretovariate": lambda alpha: alpha / (alpha - 1.0) if alpha > 1 else math.nan,
    "normalvariate": lambda mu=0.0, sigma=1.0: mu,
    "gauss": lambda mu=0.0, sigma=1.0: mu,
}


class ArrivalProcess:
    """Seeded source of unit inter-arrival times for one :class:`protocol.ArrivalSpec`."""

    def __init__(self, spec: ArrivalSpec | None = None) -> None:
        spec = spec or ArrivalSpec()
        self.spec = spec
        self.native_rate: float | None = None
        self._rng = random.Random(spec.seed)
        self._pos = 0
        self._intervals: list[float] = []
        self._sample: Callable[[], float]
        kind = ArrivalKind(spec.kind)
        if kind is ArrivalKind.CONSTANT:
            self._sample = _one
        elif kind is ArrivalKind.POISSON:
            self._sample = self._poisson
        elif kind is ArrivalKind.DISTRIBUTION:
            self._sample = self._distribution(spec.distribution, spec.params, spec.seed)
        else:
            self._intervals = _normalised(spec.intervals_s)
            self.native_rate = len(spec.intervals_s) / sum(spec.intervals_s)
            self._sample = self._replay

    def next_unit(self) -> float:
        """The next inter-arrival time in unit time (mean 1)."""
        return self._sample()

    def _poisson(self) -> float:
        return self._rng.expovariate(1.0)

    def _replay(self) -> float:
        v = self._intervals[self._pos]
        self._pos = (self._pos + 1) % len(self._intervals)
        return v

    def _distribution(
        self, name: str | None, params: Sequence[float], seed: int | None
    ) -> Callable[[], float]:
        if not name or name.startswith("_") or (
            not name.endswith("variate") and name not in _MEANS
        ):
            raise ValidationError(
                f"arrival distribution {name!r} is not a random.Random method such as "
                "'lognormvariate' or 'uniform'"
            )
        method = getattr(self._rng, name, None)
        if not callable(method):
            raise ValidationError(f"arrival distribution {name!r} is not a random.Random method")
        args = tuple(float(p) for p in params)
        try:
            inspect.signature(method).bind(*args)
        except TypeError as e:  # e.g. expovariate without lambd: "missing ... argument: 'lambd'"
            raise ValidationError(
                f"arrival distribution {name}{list(args)}: wrong parameters ({e})"
            ) from None
        try:
            mean = _mean_of(name, args, seed)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
            raise ValidationError(
                f"arrival distribution {name}{list(args)} cannot be sampled: {e}"
            ) from None
        if not math.isfinite(mean) or mean <= 0:
            raise ValidationError(
                f"arrival distribution {name}{list(args)} has no positive finite mean"
            )
        scale = 1.0 / mean

        def sample() -> float:
            v = method(*args) * scale
            return v if v > 0.0 else 0.0

        return sample


def _one() -> float:
    return 1.0


def _mean_of(name: str, args: tuple[float, ...], seed: int | None) -> float:
    known = _MEANS.get(name)
    if known is not None:
        return float(known(*args))
    rng = random.Random(None if seed is None else seed + 1)
    method = getattr(rng, name)
    return math.fsum(max(0.0, method(*args)) for _ in range(MEAN_ESTIMATE_SAMPLES)) / (
        MEAN_ESTIMATE_SAMPLES
    )


def _normalised(intervals: Sequence[float]) -> list[float]:
    if not intervals:
        raise ValidationError("a 'trace' arrival needs a non-empty list of intervals_s")
    if any(not math.isfinite(v) or v < 0 for v in intervals):
        raise ValidationError("trace arrival intervals_s must be finite numbers >= 0")
    total = math.fsum(intervals)
    if total <= 0:
        raise ValidationError("trace arrival intervals_s must not all be zero")
    mean = total / len(intervals)
    return [v / mean for v in intervals]
