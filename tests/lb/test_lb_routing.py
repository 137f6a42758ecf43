"""The balancer follows the routing table (exact weights, live changes), ejects failing backends,
answers 503 when none is left, runs active checks, and switches policy on a bus command."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.lb.http import backend_of, connection, get
from tests.waiting import until

from galileo.lb.backends import HealthConfig
from galileo.lb.balancer import Timeouts
from galileo.lb.commands import switch_policy
from galileo.protocol import EventField, EventKind, Keys, decode_event


def _split(port: int, n: int, path: str = "/svc/") -> Counter[str]:
    names: Counter[str] = Counter()
    with connection(port) as conn:
        for _ in range(n):
            status, headers, _ = get(conn, path)
            names[headers.get("x-backend", str(status))] += 1
    return names


def test_exact_fractional_weights_and_live_change(start_lb, backends, routing):
    a, b, c = backends("a"), backends("b"), backends("c")
    routing.set("svc", [a.address, b.address, c.address], [0.5, 1.5, 0.25])
    lb = start_lb()
    until(lambda: "svc" in lb.balancer.services, 5, "the route")
    assert _split(lb.port, 9 * 20) == {"a": 40, "b": 120, "c": 20}  # exactly 2:6:1 per 9
    routing.set("svc", [a.address, b.address], [1, 0])
    until(lambda: lb.balancer.services["svc"].version >= 1
          and len(lb.balancer.services["svc"].backends) == 2, 5, "the new record")
    assert _split(lb.port, 50) == {"a": 50}
    routing.remove("svc")
    until(lambda: "svc" not in lb.balancer.services, 5, "the removal")
    assert _split(lb.port, 1) == {"404": 1}


def _lb_traces(redis_client, settings):
    from galileo.protocol import TraceField, decode_lb_trace_batch

    return [t for _, f in redis_client.xrange(Keys(settings.namespace).lb_traces)
            for t in decode_lb_trace_batch(f[TraceField]).traces]


def test_killed_backend_is_ejected_without_client_errors(start_lb, backends, routing, settings,
                                                         redis_client):
    a, b = backends("a"), backends("b")
    routing.set("svc", [a.address, b.address])
    timeouts = Timeouts(connect_s=30, response_s=30)  # so that "at once" is not a timeout
    lb = start_lb(health=HealthConfig(max_failures=2, backoff_s=30), timeouts=timeouts)
    until(lambda: "svc" in lb.balancer.services, 5, "the route")
    assert _split(lb.port, 10) == {"a": 5, "b": 5}
    a.kill()
    # connect failures move on to b (retries=1): the clients see no error at all
    assert _split(lb.port, 40) == {"b": 40}
    until(lambda: len(_lb_traces(redis_client, settings)) == 50, 5, "50 lb traces")
    retried = [t for t in _lb_traces(redis_client, settings) if t.attempts == 2]
    assert retried and {(t.status, t.error, t.backend) for t in retried} == {
        (200, "", b.address)}  # a retried success is a success
    backend_a = lb.balancer.services["svc"].find(a.address)
    assert backend_a is not None and not backend_a.healthy(time.monotonic_ns())
    b.kill()
    with connection(lb.port) as conn:
        statuses = [get(conn, "/svc/")[0] for _ in range(3)]
        assert statuses[0] == 502  # b's first failure: nothing else left to try
        t0 = time.monotonic()
        status, _, data = get(conn, "/svc/")
        elapsed = time.monotonic() - t0
    assert statuses[1:] == [502, 503] or statuses[2] == 503
    assert status == 503 and b"every backend of service 'svc' is out" in data
    assert elapsed < 10  # answered at once, not after a 30 s timeout


def test_active_checks_take_a_backend_out_and_back(start_lb, backends, routing, loop):
    from galileo.lb.checks import ActiveChecks, CheckConfig

    a, b = backends("a"), backends("b")
    routing.set("svc", [a.address, b.address])
    lb = start_lb()
    until(lambda: "svc" in lb.balancer.services, 5, "the route")
    checks = ActiveChecks(lb.balancer, CheckConfig(path="/health", interval_s=0.05, fall=2))
    task = loop.run(_start_task(checks.run()))
    try:
        a.mode = "error"
        backend_a = lb.balancer.services["svc"].find(a.address)
        until(lambda: not backend_a.active_ok, 5, "a to fail its checks")
        assert _split(lb.port, 10) == {"b": 10}
        a.mode = "ok"
        until(lambda: backend_a.active_ok, 5, "a to pass again")
        assert _split(lb.port, 10) == {"a": 5, "b": 5}
        assert any(s["path"] == "/health" for s in a.seen)
    finally:
        loop.call(task.cancel)


async def _start_task(coro):
    import asyncio

    return asyncio.get_running_loop().create_task(coro)


def test_latency_aware_policies_beat_round_robin(start_lb, backends, routing):
    fast, slow = backends("fast"), backends("slow", mode="slow", delay_s=0.03)
    routing.set("svc", [fast.address, slow.address])
    shares = {}
    for policy in ("wrr", "least-outstanding", "ewma", "p2c"):
        lb = start_lb(policy=policy)
        until(lambda lb=lb: "svc" in lb.balancer.services, 5, "the route")
        with ThreadPoolExecutor(8) as pool:
            names = Counter(pool.map(lambda _, lb=lb: backend_of(lb.port), range(160)))
        shares[policy] = names["fast"] / 160
    assert shares["wrr"] == 0.5
    for policy in ("least-outstanding", "ewma", "p2c"):
        assert shares[policy] > 0.6, shares


def test_consistent_hash_on_header(start_lb, backends, routing):
    a, b, c = backends("a"), backends("b"), backends("c")
    routing.set("svc", [a.address, b.address, c.address])
    lb = start_lb(policy="hash,header=X-User")
    until(lambda: "svc" in lb.balancer.services, 5, "the route")
    users = [f"user-{i}" for i in range(60)]
    first = {u: backend_of(lb.port, headers={"X-User": u}) for u in users}
    assert {u: backend_of(lb.port, headers={"X-User": u}) for u in users} == first
    assert set(first.values()) == {"a", "b", "c"}
    routing.set("svc", [a.address, b.address])  # c leaves: only c's users move
    until(lambda: len(lb.balancer.services["svc"].backends) == 2, 5, "the new record")
    after = {u: backend_of(lb.port, headers={"X-User": u}) for u in users}
    assert all(after[u] == first[u] for u in users if first[u] != "c")


def test_policy_switch_reaches_the_balancer_and_is_recorded(start_lb, backends, routing,
                                                              settings, redis_client):
    a = backends("a")
    routing.set("svc", [a.address])
    lb = start_lb()
    until(lambda: "svc" in lb.balancer.services, 5, "the route")
    redis_client.set(Keys(settings.namespace).current_experiment, "exp-lb-1")
    switch_policy(redis_client, settings.namespace, "lb", "least-outstanding")
    until(lambda: lb.balancer.policy_name == "least-outstanding", 2, "the switch")
    keys = Keys(settings.namespace)
    events = [decode_event(f[EventField]) for _, f in redis_client.xrange(keys.events)]
    switches = [e for e in events if e.kind == EventKind.LB_POLICY]
    assert [(e.name, e.data, e.exp_id) for e in switches] == [
        ("lb", {"policy": "least-outstanding"}, "exp-lb-1")]
    # a balancer started later takes the stored policy
    later = start_lb()
    assert later.balancer.policy_name == "least-outstanding"


def test_response_timeouts_answer_504_on_time(start_lb, backends, routing):
    """A backend slower than the response timeout gets a 504 after that timeout (the service's
    own one where set), and one that answers in time is not cut short; nothing stays armed."""
    slow = backends("slow", mode="slow", delay_s=3.0)
    quick = backends("quick", mode="slow", delay_s=0.2)
    routing.set("svc", [slow.address])
    routing.set("short", [slow.address])
    routing.set("fine", [quick.address])
    lb = start_lb(timeouts=Timeouts(connect_s=1, response_s=0.6),
                  service_timeouts={"short": Timeouts(connect_s=1, response_s=0.25)})
    until(lambda: len(lb.balancer.services) == 3, 5, "the routes")
    for path, timeout_s in (("/svc/", 0.6), ("/short/", 0.25)):
        with connection(lb.port) as conn:
            t0 = time.monotonic()
            status, _, data = get(conn, path)
            elapsed = time.monotonic() - t0
        assert status == 504 and f"within {timeout_s:g} s".encode() in data
        assert timeout_s <= elapsed < timeout_s + 0.2, (path, elapsed)
    with connection(lb.port) as conn:  # 0.2 s is within the 0.6 s timeout: answered
        assert [get(conn, "/fine/")[0] for _ in range(3)] == [200, 200, 200]
        assert len(lb.balancer.deadlines) == 0  # disarmed when the answers came
        time.sleep(0.7)  # past the answered requests' timeouts: the connection is still fine
        assert get(conn, "/fine/")[0] == 200
