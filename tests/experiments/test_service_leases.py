"""Service leases on real Redis: all or none, the holder named, expiry with a dead runner,
re-taken after Redis forgot them, released only by their owner."""

from __future__ import annotations

import time

from galileo import bus
from galileo.experiments.service_leases import ServiceLeases
from galileo.protocol import Keys
from galileo.settings import Settings


def test_leases_all_or_none_expiry_and_refresh(settings: Settings) -> None:
    client, keys = bus.connect(settings), Keys(settings.namespace)

    def leases(exp_id: str, *services: str, ttl_s: float = 30) -> ServiceLeases:
        return ServiceLeases(client, keys, exp_id, services, ttl_s)

    a, b = leases("a", "echo", "api"), leases("b", "api", "db")
    assert a.try_acquire() == {}
    assert b.try_acquire() == {"api": "a"}  # all or none: 'db' was not taken either
    assert client.get(keys.service_lease("db")) is None
    assert leases("c", "db").try_acquire() == {}  # disjoint services run side by side

    client.delete(keys.service_lease("echo"))  # Redis restarted empty: the heartbeat re-takes
    a.refresh()
    assert client.get(keys.service_lease("echo")) == b"a"
    b.release()  # not b's: nothing happens
    assert client.get(keys.service_lease("api")) == b"a"
    a.release()
    assert leases("b2", "api", "echo").try_acquire() == {}

    dying = leases("dead", "web", ttl_s=0.2)  # its runner stops refreshing
    assert dying.try_acquire() == {}
    assert leases("next", "web").try_acquire() == {"web": "dead"}
    time.sleep(0.3)
    assert leases("next", "web").try_acquire() == {}
    client.close()


def test_wait_reports_why_and_gives_up_when_cancelled(settings: Settings) -> None:
    client, keys = bus.connect(settings), Keys(settings.namespace)
    ServiceLeases(client, keys, "first", ["echo"], 30).try_acquire()
    said: list[str] = []
    polls = iter([True, True, False])  # QUEUED twice, then cancelled
    waiting = ServiceLeases(client, keys, "second", ["echo"], 30)
    assert not waiting.wait(lambda: next(polls), said.append, poll_s=0.01)
    assert said == ["waiting for service 'echo' (used by experiment first)"]  # said once
    assert not waiting.held
    client.close()
