"""The state keeper: snapshot while Redis holds the epoch, restore when it came back empty."""

from __future__ import annotations

from typing import Any

import redis

from galileo.control import Galileo
from galileo.control.state import StateKeeper
from galileo.protocol import EventKind, decode_event


def _empty(raw: redis.Redis, ns: str) -> None:
    """What a Redis restart without persistence does to the namespace."""
    keys = list(raw.scan_iter(f"{ns}:*"))
    if keys:
        raw.delete(*keys)


def test_restore_after_empty_redis(g: Galileo, fake_worker: Any, raw: redis.Redis) -> None:
    fake_worker("w1")
    g.rtbl.set("api", "h1:80,h2:80", "1,3")
    g.rtbl.set("gone", "h3:80")
    g.rtbl.remove("gone")
    exp = g.experiment.start(name="run")
    g.tracing(False)
    group = g.spawn("api", 2, rps=10)
    keeper = StateKeeper(g.redis, g.keys)
    assert keeper.tick() is None  # first sight: claims the epoch, snapshots
    epoch = raw.get(g.keys.epoch)
    before = g.rtbl.get("api")
    _empty(raw, g.keys.ns)
    g.rtbl.set("fresh", "h9:80")  # written after the restart: must not be overwritten
    restored = keeper.tick()
    assert restored is not None and restored.services == ["api"]
    assert g.rtbl.get("api") == before  # same hosts, weights and version
    assert g.rtbl.services() == ["api", "fresh"] and g.rtbl.get("gone") is None
    assert g.experiment.current() == exp
    assert raw.get(g.keys.tracing) == b"off"
    assert g.group(group.gid).info == group.info
    assert raw.get(g.keys.epoch) not in (None, epoch)
    events = [decode_event(f[b"e"]) for _, f in raw.xrange(g.keys.events)]
    [ev] = [e for e in events if e.kind == EventKind.STATE_RESTORED]
    assert ev.exp_id == exp and ev.data["services"] == ["api"] and ev.data["groups"] == 1
    assert keeper.tick() is None  # epoch present again: nothing to do


def test_a_finished_experiment_is_not_restored(g: Galileo, raw: redis.Redis) -> None:
    ended: set[str] = set()
    keeper = StateKeeper(g.redis, g.keys, keep_experiment=lambda e: e not in ended)
    exp = g.experiment.start()
    keeper.tick()
    ended.add(exp)  # the expdb says it is over (its stop was lost with Redis)
    _empty(raw, g.keys.ns)
    restored = keeper.tick()
    assert restored is not None and restored.experiment is None
    assert g.experiment.current() is None


def test_stop_works_after_redis_lost_the_marker(g: Galileo, raw: redis.Redis) -> None:
    exp = g.experiment.start()
    _empty(raw, g.keys.ns)
    assert g.experiment.current() is None
    assert g.experiment.stop() == exp  # this controller started it: the stop is recorded
    events = [decode_event(f[b"e"]) for _, f in raw.xrange(g.keys.events)]
    assert [(e.kind, e.exp_id) for e in events] == [(EventKind.EXPERIMENT_STOP, exp)]
    other = g.experiment.start()
    assert not g.experiment.clear_marker(exp) and g.experiment.current() == other


def test_an_experiment_stopped_after_the_restart_is_not_restored(g: Galileo,
                                                                  raw: redis.Redis) -> None:
    keeper = StateKeeper(g.redis, g.keys)
    g.experiment.start()
    keeper.tick()
    _empty(raw, g.keys.ns)
    g.experiment.stop()  # before the keeper noticed the restart: the stop is in the stream
    restored = keeper.tick()
    assert restored is not None and restored.experiment is None
    assert g.experiment.current() is None
