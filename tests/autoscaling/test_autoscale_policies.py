"""The autoscaling policies and the decision rule as pure logic, against reference values: the
HPA rule (tolerance, ceil, scale-down stabilisation), the latency band, Knative's panic window,
schedules, clamping and cooldown, a missing metric held with its reason, the plugin allow-list."""

from __future__ import annotations

import pytest

from galileo.autoscaling import (
    ConcurrencyPolicy,
    CpuPolicy,
    LatencyPolicy,
    Observation,
    Proposal,
    SchedulePolicy,
    load_policy,
    parse_schedule,
    settle,
)
from galileo.autoscaling.metrics import window_stats
from galileo.errors import ConfigError
from galileo.load.stats import new_histogram
from galileo.protocol import GroupStats


def cpu_obs(t: float, replicas: int, used: tuple[float, ...], request: float = 0.5
            ) -> Observation:
    return Observation(t_s=t, replicas=replicas, ready=len(used), cpu_request=request,
                       cpu_used=used)


# ---------------------------------------------------------------------- cpu (HPA)
@pytest.mark.parametrize(("used", "want"), [
    ((0.5, 0.4), 3),     # utilisation 0.9 / 0.6 = 1.5 -> ceil(2 x 1.5) = 3
    ((0.32, 0.32), 2),   # 0.64 / 0.6 = 1.067: inside the 10 % tolerance -> current
    ((0.335, 0.335), 3),  # 0.67 / 0.6 = 1.117: outside -> ceil(2.23) = 3
    ((0.27, 0.27), 2),   # 0.54 / 0.6 = 0.9: at the tolerance's edge -> current
    ((0.1, 0.1), 1),     # 0.2 / 0.6 = 0.333 -> ceil(0.67) = 1
    ((0.0, 0.0), 0),     # idle -> 0 (the autoscaler clamps it to min)
])
def test_hpa_rule_ceil_and_tolerance(used: tuple[float, ...], want: int) -> None:
    policy = CpuPolicy(target=0.6, window_s=0)
    assert policy.propose(cpu_obs(0, 2, used)).desired == want


def test_hpa_exact_ratio_is_not_rounded_up() -> None:
    # 4 instances at 0.375 of 0.5 cores: 0.75 / 0.6 = 1.25 -> 4 x 1.25 = 5 exactly, not 6
    p = CpuPolicy(target="0.6").propose(cpu_obs(0, 4, (0.375,) * 4))
    assert (p.desired, p.observed, p.target) == (5, 0.75, 0.6)
    assert p.inputs["measured"] == 4 and "ceil(4 x 1.25) = 5" in p.reason


def test_hpa_scale_down_waits_for_the_stabilisation_window() -> None:
    policy = CpuPolicy(target=0.6, window_s=10)
    assert policy.propose(cpu_obs(0, 4, (0.3,) * 4)).desired == 4  # on target
    held = policy.propose(cpu_obs(5, 4, (0.05,) * 4))  # wants 1, but 4 was recommended at 0
    assert held.desired == 4 and "stabilisation" in held.reason
    assert held.inputs["recommendation"] == 1
    assert policy.propose(cpu_obs(10, 4, (0.05,) * 4)).desired == 4  # t=0 still in [0, 10]
    assert policy.propose(cpu_obs(10.5, 4, (0.05,) * 4)).desired == 1  # t=0 left the window


def test_hpa_scale_up_is_immediate_and_down_is_capped_by_the_window_max() -> None:
    policy = CpuPolicy(target=0.5, window_s=30)
    assert policy.propose(cpu_obs(0, 1, (0.5,))).desired == 2  # 1.0 / 0.5 -> 2 at once
    assert policy.propose(cpu_obs(1, 2, (0.45, 0.45))).desired == 4  # 0.9/0.5 -> ceil(3.6)
    # falling: the highest of the window (4) is above the current 3 -> stays at current
    assert policy.propose(cpu_obs(2, 3, (0.1,) * 3)).desired == 3


def test_hpa_never_scales_down_on_a_partial_view() -> None:
    p = CpuPolicy(target=0.6, window_s=0).propose(
        Observation(t_s=0, replicas=3, ready=1, cpu_request=0.5, cpu_used=(0.1,)))
    assert p.desired == 3 and "1 of 3 replicas measured" in p.reason


@pytest.mark.parametrize(("obs", "why"), [
    (Observation(t_s=0, replicas=2, ready=2, cpu_request=0.0, cpu_used=(0.3, 0.3)),
     "no CPU request"),
    (Observation(t_s=0, replicas=2, ready=0, cpu_request=0.5), "no CPU measurement"),
])
def test_hpa_missing_metric_holds_and_says_why(obs: Observation, why: str) -> None:
    p = CpuPolicy().propose(obs)
    assert p.desired is None and why in p.reason


# ---------------------------------------------------------------------- latency
@pytest.mark.parametrize(("p99", "replicas", "want"), [
    (250.0, 2, 4),   # 2 x 2.5 = 5, at most doubling -> 4
    (120.0, 2, 3),   # ceil(2 x 1.2) = 3
    (101.0, 4, 5),   # ceil(4.04) = 5
    (100.0, 2, 2),   # at the SLO: inside the band
    (60.0, 2, 2),    # inside [50, 100]: hold (hysteresis)
    (50.0, 2, 2),    # at the band's lower edge: hold
    (40.0, 3, 2),    # well under: one less
    (500.0, 0, 2),   # from zero: counted as one replica, at most doubled
])
def test_latency_band(p99: float, replicas: int, want: int) -> None:
    obs = Observation(t_s=0, replicas=replicas, ready=replicas, p99_ms=p99, rps=10.0)
    assert LatencyPolicy(slo_ms=100, low=0.5).propose(obs).desired == want


def test_latency_scale_down_waits_for_its_stabilisation_window() -> None:
    """Over the SLO at 0 s (up to 3), well under from 2 s: with window_s=5 the scale-down waits
    until the 0 s proposal has left the window; without one it goes at once."""
    def at(t: float, p99: float, replicas: int) -> Observation:
        return Observation(t_s=t, replicas=replicas, ready=replicas, p99_ms=p99, rps=10.0)

    steady = LatencyPolicy(slo_ms=100, window_s=5)
    assert steady.propose(at(0, 150.0, 2)).desired == 3
    held = steady.propose(at(2, 10.0, 3))
    assert held.desired == 3 and "stabilisation: the highest proposal of the last 5 s" in \
        held.reason
    assert steady.propose(at(4, 10.0, 3)).desired == 3
    assert steady.propose(at(6, 10.0, 3)).desired == 2  # the 0 s proposal is out of the window
    assert steady.describe().endswith(",window_s=5")
    quick = LatencyPolicy(slo_ms=100)
    assert quick.propose(at(0, 150.0, 2)).desired == 3
    assert quick.propose(at(2, 10.0, 3)).desired == 2 and "window" not in quick.describe()


def test_latency_without_stats_holds_with_the_observers_reason() -> None:
    obs = Observation(t_s=0, replicas=2, missing="no client group sends to 'kv'")
    p = LatencyPolicy(slo_ms="50").propose(obs)
    assert p.desired is None and p.reason == "no client group sends to 'kv'"
    assert p.target == 50


# ---------------------------------------------------------------------- concurrency
def test_concurrency_stable_window_and_panic() -> None:
    policy = ConcurrencyPolicy(target=10, stable_s=60, panic_s=6, panic_threshold=2)

    def step(t: float, inflight: float, replicas: int) -> Proposal:
        return policy.propose(Observation(t_s=t, replicas=replicas, ready=replicas,
                                          inflight=inflight))

    for t in range(10):
        p = step(t, 20, 2)
        assert p.desired == 2 and not p.inputs["panicking"]
    # a burst: panic window (4, 10] = five 20s and one 100 -> 33.3 -> 4 = 2 x 2 ready: panic
    p = step(10, 100, 2)
    assert p.inputs["want_panic"] == 4 and p.inputs["panicking"] and p.desired == 4
    assert p.inputs["want_stable"] == 3  # (10 x 20 + 100) / 11 = 27.3 -> 3
    # the burst is gone: the stable window would say 2 or 3, but no scale-down while panicking
    for t in range(11, 70):
        p = step(t, 0, 4)
        assert p.desired == 4 and p.inputs["panicking"], t
    # a whole stable window (60 s) after the last trigger: back to the stable rule
    p = step(70, 0, 4)
    assert not p.inputs["panicking"] and p.desired == 0


def test_concurrency_below_the_threshold_does_not_panic() -> None:
    policy = ConcurrencyPolicy(target=10, stable_s=60, panic_s=6, panic_threshold=2)
    for t in range(6):
        p = policy.propose(Observation(t_s=t, replicas=2, ready=2, inflight=30))
    assert p.inputs["want_panic"] == 3 and not p.inputs["panicking"] and p.desired == 3


def test_concurrency_missing_inflight_holds() -> None:
    p = ConcurrencyPolicy().propose(Observation(t_s=0, replicas=1, missing="no live stats"))
    assert p.desired is None and p.reason == "no live stats"


# ---------------------------------------------------------------------- schedule
def test_schedule_parsing() -> None:
    assert parse_schedule("0s=1,30s=3,1m=1") == [(0.0, 1), (30.0, 3), (60.0, 1)]
    assert parse_schedule("2s=0; 500ms=2") == [(0.5, 2), (2.0, 0)]
    assert parse_schedule("10=4 0=1") == [(0.0, 1), (10.0, 4)]
    for bad, why in [("abc", "not OFFSET=REPLICAS"), ("0s=1,0s=2", "twice"), ("", "empty"),
                     ("1s=-1", "not OFFSET=REPLICAS")]:
        with pytest.raises(ConfigError, match=why):
            parse_schedule(bad)


def test_schedule_policy_follows_the_offsets() -> None:
    policy = load_policy("schedule,at=5s=1,30s=3,60s=1")
    assert isinstance(policy, SchedulePolicy)
    before = policy.propose(Observation(t_s=1, replicas=2))
    assert before.desired is None and "starts at 5 s" in before.reason
    assert [policy.propose(Observation(t_s=t, replicas=1)).desired
            for t in (5, 29.9, 30, 59, 61)] == [1, 1, 3, 3, 1]


# ---------------------------------------------------------------------- decision rule
@pytest.mark.parametrize(("desired", "current", "left", "want"), [
    (5, 2, 0.0, (4, "scale", "5 clamped to 4 (min 1, max 4)")),
    (0, 2, 0.0, (1, "scale", "0 clamped to 1")),
    (3, 2, 0.0, (3, "scale", "")),
    (3, 2, 2.5, (2, "hold", "cooldown: 2.5 s left, holding 2")),
    (2, 2, 0.0, (2, "hold", "")),
    (9, 4, 0.0, (4, "hold", "9 clamped to 4")),  # at max: hold, and says why
])
def test_settle_clamps_and_cools_down(desired: int, current: int, left: float,
                                      want: tuple[int, str, str]) -> None:
    to, action, reason = settle(Proposal(desired, "rule"), current, 1, 4, left)
    assert (to, action) == want[:2] and want[2] in reason and reason.startswith("rule")


def test_settle_holds_a_missing_metric_even_outside_the_bounds() -> None:
    assert settle(Proposal(None, "no live stats"), 7, 1, 4, 0.0) == (
        7, "hold", "metric missing: no live stats; holding 7")


# ---------------------------------------------------------------------- loading
@pytest.mark.parametrize(("spec", "options", "why"), [
    ("nope", None, "unknown autoscaling policy 'nope'"),
    ("", None, "empty"),
    ("cpu,foo=1", None, "has no option\\(s\\) foo \\(options: target, tolerance, window_s\\)"),
    ("cpu", {"target": "x"}, "option target must be a number > 0, got 'x'"),
    ("cpu", {"target": 0}, "option target must be a number > 0"),
    ("cpu,target", None, "is not key=value"),
    ("latency", {"low": 1.5}, "must be below 1"),
    ("concurrency", {"panic_s": 90}, "must not be longer than the stable window"),
    ("schedule", None, "needs the option at"),
    ("as_policies:Fixed", None, "is not allowed"),
    ("os:path", None, "is not allowed"),
])
def test_bad_policies_are_one_sentence(spec: str, options: dict[str, object] | None,
                                       why: str) -> None:
    with pytest.raises(ConfigError, match=why) as info:
        load_policy(spec, options)
    assert "\n" not in str(info.value)


def test_options_win_over_the_spec_and_aliases_resolve() -> None:
    policy = load_policy("hpa,target=0.5", {"target": "0.8", "window_s": 60})
    assert isinstance(policy, CpuPolicy) and policy.describe() == \
        "cpu,target=0.8,tolerance=0.1,window_s=60"


def test_a_researchers_policy_loads_only_from_an_allowed_module() -> None:
    policy = load_policy("as_policies:Fixed", {"replicas": "3"}, ["as_policies"])
    assert policy.propose(Observation(t_s=0, replicas=1)).desired == 3
    assert load_policy("fixed", None, ["as_policies"]).name == "fixed"  # by its name
    with pytest.raises(ConfigError, match="not a subclass"):
        load_policy("as_policies:NotAPolicy", None, ["as_policies"])


# ---------------------------------------------------------------------- the stats window
def _stats(gid: str, second: int, sent: int, inflight: int, latencies_us: list[int]
           ) -> GroupStats:
    hist = new_histogram()
    for v in latencies_us:
        hist.record_value(v)
    return GroupStats(gid=gid, worker="w", second=second, target_rps=sent, sent=sent,
                      done=len(latencies_us), errors=0, late=0, inflight=inflight,
                      hist_intended=hist.encode(), hist_actual=hist.encode())


def test_window_merges_groups_and_seconds_and_drops_stale_ones() -> None:
    now = 1_000
    entries = [_stats("a", now - 1, 10, 2, [1_000] * 99 + [50_000]),  # p99 of a alone: 1 ms
               _stats("b", now - 1, 30, 4, [2_000] * 100),
               _stats("a", now - 2, 20, 6, [1_000] * 100),
               _stats("a", now - 9, 500, 99, [900_000] * 100)]  # stale: ignored
    seconds, row, why = window_stats(entries, 2, now)
    assert (seconds, why) == (2, "") and row is not None
    assert row.sent / seconds == 30.0  # (10 + 30 + 20) / 2 s
    assert row.inflight / seconds == 6.0  # (2 + 4 + 6) / 2 s
    assert row.from_intended.p99_ms == pytest.approx(2.0, rel=0.01)  # 300 samples merged
    assert window_stats(entries, 1, now)[0] == 1
    none = window_stats(entries[3:], 2, now)
    assert none[:2] == (0, None) and "no live stats" in none[2]
