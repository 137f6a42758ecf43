"""The statistics ``galileo sched validate`` reports: a mean with its 95 % confidence interval
(Student's t over repeats), the mean absolute error and Kendall's rank correlation (tau-b)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (then 1.96)
T95: Final = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
              2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
              2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


@dataclass(frozen=True)
class MeanCI:
    """A sample mean and the half-width of its 95 % confidence interval (NaN for n < 2)."""

    mean: float
    half: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half


def mean_ci95(values: Sequence[float]) -> MeanCI:
    """Mean of ``values`` with the t-based 95 % interval half-width ``t * s / sqrt(n)``."""
    n = len(values)
    if n == 0:
        return MeanCI(math.nan, math.nan, 0)
    mean = sum(values) / n
    if n < 2:
        return MeanCI(mean, math.nan, 1)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    t = T95[n - 2] if n - 1 <= len(T95) else 1.96
    return MeanCI(mean, t * math.sqrt(var / n), n)


def mae(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Mean absolute error between paired values (NaN when there are none)."""
    if len(predicted) != len(measured):
        raise ValueError(f"mae: {len(predicted)} predictions for {len(measured)} measurements")
    if not predicted:
        return math.nan
    return sum(abs(p - m) for p, m in zip(predicted, measured, strict=True)) / len(predicted)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two paired rankings (ties counted as in scipy's ``kendalltau``);
    NaN when fewer than two pairs or when either side is constant."""
    if len(x) != len(y):
        raise ValueError(f"kendall_tau: {len(x)} values against {len(y)}")
    concordant = discordant = ties_x = ties_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            if dx == 0 and dy == 0:
                continue  # tied on both: counts in neither denominator term
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denom if denom else math.nan
