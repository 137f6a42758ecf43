from __future__ import annotations

import itertools
import statistics

import pytest

from galileo.errors import ValidationError
from galileo.load.arrivals import ArrivalProcess
from galileo.load.schedule import NS_PER_S, Schedule
from galileo.protocol import ArrivalKind, ArrivalSpec


def times_until(s: Schedule, end_ns: int) -> list[int]:
    out = []
    while (t := s.peek()) is not None and t <= end_ns:
        out.append(s.pop())
    return out


def test_constant_1000_rps_for_10_s_is_exact() -> None:
    s = Schedule(ArrivalProcess(), 1000, start_ns=5)
    ts = times_until(s, 5 + 10 * NS_PER_S)
    assert len(ts) == 10_000
    assert {b - a for a, b in itertools.pairwise(ts)} == {1_000_000}
    assert ts[-1] == 5 + 10 * NS_PER_S  # no cumulative drift


def test_ramp_0_to_100_over_10_s_gives_500() -> None:
    s = Schedule(ArrivalProcess(), 0, start_ns=0)
    assert s.peek() is None
    s.set_rate(100, now_ns=0, ramp_s=10)
    assert len(times_until(s, 10 * NS_PER_S)) == 500
    # after the ramp the rate stays at 100/s
    assert len(times_until(s, 11 * NS_PER_S)) == 100


def test_rate_change_mid_way_keeps_absolute_plan() -> None:
    s = Schedule(ArrivalProcess(), 100, start_ns=0)
    first = times_until(s, NS_PER_S)
    s.set_rate(200, now_ns=NS_PER_S)
    second = times_until(s, 2 * NS_PER_S)
    assert len(first) == 100 and len(second) == 200
    assert second[0] == NS_PER_S + 5_000_000 and second[-1] == 2 * NS_PER_S


def test_pause_resume_and_limit() -> None:
    s = Schedule(ArrivalProcess(), 100, start_ns=0, limit=150)
    assert len(times_until(s, NS_PER_S)) == 100
    s.pause(NS_PER_S)
    assert s.peek() is None
    s.resume(5 * NS_PER_S)
    rest = times_until(s, 100 * NS_PER_S)
    assert len(rest) == 50 and rest[0] == 5 * NS_PER_S + 10_000_000
    assert s.exhausted and s.peek() is None


def test_poisson_is_seeded_and_has_the_mean_rate() -> None:
    spec = ArrivalSpec(kind=ArrivalKind.POISSON, seed=7)
    a = times_until(Schedule(ArrivalProcess(spec), 1000, start_ns=0), 100 * NS_PER_S)
    b = times_until(Schedule(ArrivalProcess(spec), 1000, start_ns=0), 100 * NS_PER_S)
    assert a == b
    assert 99_000 < len(a) < 101_000


def test_poisson_ramp_uses_time_rescaling() -> None:
    s = Schedule(ArrivalProcess(ArrivalSpec(kind=ArrivalKind.POISSON, seed=1)), 0, start_ns=0)
    s.set_rate(2000, now_ns=0, ramp_s=10)
    ts = times_until(s, 10 * NS_PER_S)
    assert 9_700 < len(ts) < 10_300  # integral of the ramp = 10,000
    early = sum(1 for t in ts if t < 5 * NS_PER_S)
    assert 2_300 < early < 2_700  # a quarter of the integral lies in the first half


@pytest.mark.parametrize(("name", "params"), [
    ("lognormvariate", [0.0, 0.5]), ("uniform", [1.0, 3.0]), ("gammavariate", [2.0, 1.0]),
    ("weibullvariate", [1.0, 1.5]), ("vonmisesvariate", [1.0, 2.0]),
])
def test_distribution_mean_matches_rate(name: str, params: list[float]) -> None:
    p = ArrivalProcess(ArrivalSpec(kind=ArrivalKind.DISTRIBUTION, distribution=name,
                                   params=params, seed=3))
    assert statistics.fmean(p.next_unit() for _ in range(40_000)) == pytest.approx(1.0, rel=0.03)


def test_bad_distribution_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match=r"not a random\.Random method"):
        ArrivalProcess(ArrivalSpec(kind=ArrivalKind.DISTRIBUTION, distribution="system"))


def test_trace_replay_keeps_recorded_rate_or_scales() -> None:
    p = ArrivalProcess(ArrivalSpec(kind=ArrivalKind.TRACE, intervals_s=[0.1, 0.3]))
    assert p.native_rate == pytest.approx(5.0)
    s = Schedule(p, 5.0, start_ns=0)
    assert times_until(s, NS_PER_S) == [100_000_000, 400_000_000, 500_000_000, 800_000_000,
                                        900_000_000]
