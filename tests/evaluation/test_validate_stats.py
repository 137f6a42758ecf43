"""The validation's statistics against reference values (hand-computed and scipy's)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from galileo.evaluation.stats import kendall_tau, mae, mean_ci95


def test_mean_ci95_matches_student_t() -> None:
    values = [0.81, 0.77, 0.92, 0.85]
    ci = mean_ci95(values)
    # by hand: mean 0.8375, s = 0.063966, t(3) = 3.182 -> half 3.182 * s / 2 = 0.10177
    assert ci.mean == pytest.approx(0.8375)
    assert ci.half == pytest.approx(0.10177, abs=1e-4)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=ci.mean, scale=stats.sem(values))
    assert ci.low == pytest.approx(low, abs=2e-4)
    assert ci.high == pytest.approx(high, abs=2e-4)
    many = [float(i % 7) for i in range(50)]  # beyond the table: the normal quantile
    assert mean_ci95(many).half == pytest.approx(1.96 * stats.sem(many), rel=1e-9)


def test_mean_ci95_of_too_few_values() -> None:
    assert math.isnan(mean_ci95([]).mean)
    one = mean_ci95([0.5])
    assert one.mean == 0.5 and math.isnan(one.half) and one.n == 1


def test_mae() -> None:
    assert mae([1.0, 0.5, 0.2], [0.8, 0.5, 0.5]) == pytest.approx((0.2 + 0.0 + 0.3) / 3)
    with pytest.raises(ValueError):
        mae([1.0], [1.0, 2.0])


@pytest.mark.parametrize(("x", "y", "expected"), [
    ([1, 2, 3, 4], [1, 2, 3, 4], 1.0),
    ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
    ([1, 2, 3], [1, 3, 2], 1 / 3),  # 2 concordant, 1 discordant of 3 pairs
])
def test_kendall_tau_reference_values(x: list[float], y: list[float], expected: float) -> None:
    assert kendall_tau(x, y) == pytest.approx(expected)


def test_kendall_tau_b_with_ties_matches_scipy() -> None:
    x = [0.70, 0.70, 0.55, 0.91, 0.62]
    y = [0.66, 0.58, 0.58, 0.80, 0.71]
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert math.isnan(kendall_tau([0.5, 0.5], [0.1, 0.2]))  # one side constant
    assert math.isnan(kendall_tau([0.5], [0.1]))
