"""Smooth weighted round robin (nginx's algorithm), generalised to float weights.

Float weights are turned into exact integers first (each weight as a fraction with a denominator
of at most ``MAX_DENOMINATOR``, scaled by the common denominator and divided by the common
divisor), so the selection is exact: weights ``0.5`` and ``1.5`` give exactly 1:3 in every window
of :attr:`SmoothWeightedRoundRobin.period` = 4 picks, and a host of weight 0 is never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from galileo.errors import ValidationError

MAX_DENOMINATOR: Final = 1_000_000

__all__ = ["SmoothWeightedRoundRobin", "WeightMapping", "bounded_integer_weights",
           "integer_weights"]


def integer_weights(weights: Sequence[float]) -> list[int]:
    """The smallest integers proportional to ``weights`` (after rational approximation)."""
    fracs = [Fraction(w).limit_denominator(MAX_DENOMINATOR) for w in weights]
    lcm = 1
    for f in fracs:
        lcm = lcm * f.denominator // math.gcd(lcm, f.denominator)
    ints = [int(f * lcm) for f in fracs]
    g = 0
    for i in ints:
        g = math.gcd(g, i)
    return [i // g for i in ints] if g else ints


@dataclass(frozen=True)
class WeightMapping:
    """Integer weights for a system that takes only integers up to ``max_weight``."""

    weights: list[int]
    exact: bool
    max_share_error: float  # largest |share(integers) - share(floats)|, as a fraction of 1
    max_weight: int

    def describe(self) -> str:
        if self.exact:
            return "exact"
        return (f"scaled to 0..{self.max_weight} and rounded: shares off by at most "
                f"{self.max_share_error * 100:.3f} percentage points")


def bounded_integer_weights(weights: Sequence[float], max_weight: int) -> WeightMapping:
    """Exact when the smallest proportional integers (:func:`integer_weights`) stay
    ≤ ``max_weight``; otherwise scaled so the largest is ``max_weight`` and rounded (a non-zero
    weight never becomes 0), with the largest share error reported."""
    ints = integer_weights(weights)
    if not ints or max(ints) <= max_weight:
        return WeightMapping(ints, True, 0.0, max_weight)
    top = max(weights)
    scaled = [0 if w == 0 else max(1, round(w / top * max_weight)) for w in weights]
    total_w, total_s = math.fsum(weights), sum(scaled)
    error = max(abs(s / total_s - w / total_w) for s, w in zip(scaled, weights, strict=True))
    return WeightMapping(scaled, False, error, max_weight)


class SmoothWeightedRoundRobin:
    """Deterministic, evenly interleaved weighted choice among ``hosts``."""

    __slots__ = ("_current", "_hosts", "_n", "_total", "_weights")

    def __init__(self, hosts: Sequence[str], weights: Sequence[float]) -> None:
        if not hosts or len(hosts) != len(weights):
            raise ValidationError(
                f"weighted round robin needs one weight per host, got {len(hosts)} hosts "
                f"and {len(weights)} weights"
            )
        for w in weights:
            if not math.isfinite(w) or w < 0:
                raise ValidationError(f"weight {w!r} must be a finite number >= 0")
        ints = integer_weights(weights)
        if not any(ints):
            raise ValidationError("at least one weight must be greater than zero")
        self._hosts = list(hosts)
        self._weights = ints
        self._total = sum(ints)
        self._current = [0] * len(ints)
        self._n = len(ints)

    @property
    def hosts(self) -> list[str]:
        return list(self._hosts)

    @property
    def period(self) -> int:
        """Picks after which the sequence repeats; each host is picked exactly its weight times."""
        return self._total

    def next(self) -> str:
        """The next host."""
        cur = self._current
        w = self._weights
        best = -1
        best_val = 0
        for i in range(self._n):
            if w[i] == 0:
                continue
            v = cur[i] + w[i]
            cur[i] = v
            if best < 0 or v > best_val:
                best = i
                best_val = v
        cur[best] -= self._total
        return self._hosts[best]
