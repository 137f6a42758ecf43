"""A standby watchdog (a second daemon hosting one) keeps its own snapshot, so the state comes
back after Redis restarted empty even when the active watchdog died with it."""

from __future__ import annotations

import redis

from galileo.control import Galileo
from galileo.experiments.watchdog import Watchdog
from galileo.settings import Settings


def test_a_standby_restores_when_the_active_watchdog_died_with_redis(
        settings: Settings, redis_client: redis.Redis) -> None:
    with Galileo(settings) as g:
        g.rtbl.set("api", "h1:80,h2:80", "1,3")
        exp = g.experiment.start(name="run")
        active, standby = Watchdog(settings, name="active"), Watchdog(settings, name="standby")
        try:
            assert active.tick() is True and standby.tick() is False
            before = g.rtbl.get("api")
            keys = list(redis_client.scan_iter(f"{g.keys.ns}:*"))
            redis_client.delete(*keys)  # Redis restarted empty; the active host is gone too
            assert standby.tick() is True  # the lock went with Redis: the standby takes over
            assert standby.restores == 1
            assert g.rtbl.get("api") == before and g.experiment.current() == exp
        finally:
            active.close()
            standby.close()
