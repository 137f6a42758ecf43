"""Policies and backend state as pure logic (no sockets): exact choices on made-up state."""

from __future__ import annotations

from collections import Counter

import pytest

from galileo.errors import ConfigError
from galileo.lb.backends import Backend, HealthConfig
from galileo.lb.policies import Policy, load_policy

MS = 1_000_000


class Req:
    def __init__(self, client: str = "10.0.0.1", headers: dict[bytes, bytes] | None = None):
        self.client = client
        self._headers = headers or {}

    def header(self, name: bytes) -> bytes | None:
        return self._headers.get(name)


def _pool(*weights: float) -> list[Backend]:
    return [Backend(f"10.0.0.{i}:80", w, i) for i, w in enumerate(weights)]


def test_wrr_is_exact_and_skips_what_is_not_a_candidate():
    pool = _pool(1, 3)
    wrr = load_policy("wrr")
    picks = Counter(wrr.choose(pool, Req()).address for _ in range(400))
    assert picks == {pool[0].address: 100, pool[1].address: 300}
    assert {wrr.choose(pool[1:], Req()).address for _ in range(10)} == {pool[1].address}


def test_least_outstanding_per_weight_and_spread_ties():
    pool = _pool(1, 2)
    pool[0].outstanding, pool[1].outstanding = 1, 2  # 2/1 vs 3/2 per weight
    lor = load_policy("least-outstanding")
    assert lor.choose(pool, Req()) is pool[1]
    pool[0].outstanding = pool[1].outstanding = 0
    even = _pool(1, 1, 1)
    assert {lor.choose(even, Req()).address for _ in range(6)} == {b.address for b in even}


def test_p2c_never_takes_the_busier_of_its_two():
    pool = _pool(1, 1, 1)
    pool[0].outstanding, pool[1].outstanding, pool[2].outstanding = 9, 0, 5
    p2c = load_policy("p2c,seed=3")
    picks = Counter(p2c.choose(pool, Req()).address for _ in range(3000))
    assert pool[0].address not in picks  # the busiest loses every pairing
    assert picks[pool[1].address] > picks[pool[2].address] > 0  # 2/3 vs 1/3 of the pairs


def test_peak_ewma_jumps_up_and_decays():
    fast, slow = _pool(1, 1)
    health = HealthConfig()
    for b, latency in ((fast, 1 * MS), (slow, 3 * MS)):
        b.started()
        b.finished(True, latency, 10 * MS, health)
    ewma = load_policy("ewma")
    assert ewma.choose([fast, slow], Req()) is fast
    fast.outstanding = 3  # 1 ms x 4 > 3 ms x 1: load counts too
    assert ewma.choose([fast, slow], Req()) is slow
    fast.outstanding = 0
    fast.started()
    fast.finished(True, 50 * MS, 11 * MS, health)  # one slow answer: peak taken at once
    assert fast.ewma_ns == 50 * MS
    fast.started()
    fast.finished(True, 1 * MS, 11 * MS + 10_000 * MS, health)  # 10 s later: mostly decayed
    assert fast.ewma_ns < 20 * MS


def test_hash_is_stable_and_moves_only_the_leaving_backends_keys():
    pool = _pool(1, 1, 1)
    h = load_policy("hash,header=X-User")
    users = [f"u{i}".encode() for i in range(300)]
    first = {u: h.choose(pool, Req(headers={b"x-user": u})) for u in users}
    assert len({b.address for b in first.values()}) == 3
    after = {u: h.choose(pool[:2], Req(headers={b"x-user": u})) for u in users}
    assert all(after[u] is first[u] for u in users if first[u] is not pool[2])
    by_client = load_policy("hash")
    assert by_client.choose(pool, Req("1.2.3.4")) is by_client.choose(pool, Req("1.2.3.4"))


def test_passive_ejection_with_doubling_backoff():
    b = Backend("10.0.0.1:80", 1)
    health = HealthConfig(max_failures=2, backoff_s=1, max_backoff_s=3)
    now = 100 * 1_000_000_000
    for expected_backoff in (1, 2, 3, 3):
        for _ in range(2):
            b.started()
            b.finished(False, MS, now, health)
        assert not b.healthy(now)
        assert b.out_until_ns == now + expected_backoff * 1_000_000_000
        now = b.out_until_ns
        assert b.healthy(now)
    b.started()
    b.finished(True, MS, now, health)
    assert (b.failures, b.ejections) == (0, 0)


def test_loading_user_policies_only_from_allowed_modules():
    assert load_policy("tests.lb.test_lb_policies:Slowest",
                       allowed_modules=["tests.lb"]).describe() == "slowest"
    by_name = load_policy("slowest", allowed_modules=["tests.lb.test_lb_policies"])
    assert type(by_name).__name__ == "Slowest" and by_name.describe() == "slowest"
    with pytest.raises(ConfigError, match="unknown balancing policy 'slowest'"):
        load_policy("slowest")
    with pytest.raises(ConfigError, match="not allowed"):
        load_policy("tests.lb.test_lb_policies:Slowest")
    with pytest.raises(ConfigError, match="not a subclass"):
        load_policy("tests.lb.test_lb_policies:Req", allowed_modules=["tests"])
    with pytest.raises(ConfigError, match="takes no options"):
        load_policy("wrr,x=1")
    with pytest.raises(ConfigError, match="not key=value"):
        load_policy("hash,header")


class Slowest(Policy):
    name = "slowest"

    def choose(self, candidates, request):
        return max(candidates, key=lambda b: b.ewma_ns)
