from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from galileo.balancing import SmoothWeightedRoundRobin
from galileo.errors import ValidationError


def test_float_weights_exact() -> None:
    rr = SmoothWeightedRoundRobin(["a", "b"], [0.5, 1.5])
    assert rr.period == 4
    for _ in range(50):
        window = [rr.next() for _ in range(4)]
        assert window.count("a") == 1 and window.count("b") == 3


def test_smooth_interleaving_and_zero_weight() -> None:
    rr = SmoothWeightedRoundRobin(["a", "b", "c"], [5, 1, 0])
    seq = [rr.next() for _ in range(12)]
    assert "c" not in seq
    assert seq[:6] == ["a", "a", "a", "b", "a", "a"] or seq[:6].count("a") == 5


def test_invalid_weights() -> None:
    with pytest.raises(ValidationError):
        SmoothWeightedRoundRobin(["a"], [0])
    with pytest.raises(ValidationError):
        SmoothWeightedRoundRobin(["a", "b"], [1])


weights = st.lists(
    st.one_of(st.integers(0, 20).map(float), st.sampled_from([0.25, 0.5, 1.5, 0.1, 2.75])),
    min_size=1, max_size=6,
).filter(lambda ws: any(w > 0 for w in ws))


@given(weights, st.integers(1, 3))
def test_counts_proportional_over_whole_periods(ws: list[float], k: int) -> None:
    hosts = [f"h{i}" for i in range(len(ws))]
    rr = SmoothWeightedRoundRobin(hosts, ws)
    counts = Counter(rr.next() for _ in range(k * rr.period))
    total = sum(ws)
    for h, w in zip(hosts, ws, strict=True):
        assert counts[h] == pytest.approx(k * rr.period * w / total, abs=1e-6)


@given(weights)
def test_sequence_is_deterministic(ws: list[float]) -> None:
    hosts = [f"h{i}" for i in range(len(ws))]
    a = SmoothWeightedRoundRobin(hosts, ws)
    b = SmoothWeightedRoundRobin(hosts, ws)
    assert [a.next() for _ in range(50)] == [b.next() for _ in range(50)]
