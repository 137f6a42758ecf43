from __future__ import annotations

import pytest
import redis

from galileo.control import Galileo
from galileo.errors import NotFoundError, ValidationError
from galileo.protocol import EventKind, Keys, decode_event


def _events(r: redis.Redis, keys: Keys) -> list[tuple[EventKind, str]]:
    return [(decode_event(f[b"e"]).kind, decode_event(f[b"e"]).name)
            for _id, f in r.xrange(keys.events)]


def test_set_get_services_and_versions(g: Galileo, raw: redis.Redis) -> None:
    pubsub = raw.pubsub()
    pubsub.subscribe(g.keys.rtbl_updates)
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    rec = g.rtbl.set("api", "h1:8080, h2:8080", "1,2")
    assert (rec.hosts, rec.weights, rec.version) == (["h1:8080", "h2:8080"], [1.0, 2.0], 1)
    assert g.rtbl.set("api", ["h1:8080"]).version == 2
    g.rtbl.set("web", ["http://w:80"], [3])
    assert g.rtbl.get("api") is not None and g.rtbl.get("api").weights == [1.0]  # type: ignore[union-attr]
    assert g.rtbl.services() == ["api", "web"]
    assert [r.service for r in g.rtbl.records()] == ["api", "web"]
    assert pubsub.get_message(timeout=1)["data"] == b"api"
    pubsub.close()
    assert _events(raw, g.keys) == [(EventKind.ROUTING_SET, "api")] * 2 + [
        (EventKind.ROUTING_SET, "web")]


def test_remove_and_clear(g: Galileo, raw: redis.Redis) -> None:
    g.rtbl.set("a", "h:1")
    g.rtbl.set("b", "h:2")
    g.rtbl.remove("a")
    assert g.rtbl.get("a") is None and g.rtbl.services() == ["b"]
    with pytest.raises(NotFoundError, match="'a' has no routing record"):
        g.rtbl.remove("a")
    assert g.rtbl.clear() == ["b"]
    assert g.rtbl.services() == [] and g.rtbl.records() == []
    kinds = [k for k, _ in _events(raw, g.keys)]
    assert kinds == [EventKind.ROUTING_SET] * 2 + [EventKind.ROUTING_REMOVE] * 2


@pytest.mark.parametrize(("hosts", "weights", "message"), [
    ("h1:80,h2:80", "1", "2 hosts but 1 weights"),
    ("h1:80", "-1", "must be a finite number >= 0"),
    ("h1:80,h2:80", "0,0", "all weights are zero"),
    ("nohostport", "1", "bad host 'nohostport'"),
    ("h1:99999", "1", "bad host 'h1:99999'"),
    ("h1:80", "x", "'x' is not a number"),
    ("", None, "has no hosts"),
])
def test_invalid_records_write_nothing(g: Galileo, raw: redis.Redis, hosts: str,
                                       weights: str | None, message: str) -> None:
    g.rtbl.set("svc", "keep:1")
    before = raw.xlen(g.keys.events)
    with pytest.raises(ValidationError, match=message):
        g.rtbl.set("svc", hosts, weights)
    with pytest.raises(ValidationError, match="invalid service"):
        g.rtbl.set("bad name", "h:1")
    assert g.rtbl.get("svc").hosts == ["keep:1"]  # type: ignore[union-attr]
    assert g.rtbl.get("svc").version == 1  # type: ignore[union-attr]
    assert raw.xlen(g.keys.events) == before
    assert g.rtbl.services() == ["svc"]


def test_rendering(g: Galileo) -> None:
    g.rtbl.set("api", "h1:8080,h2:8080", [1, 2.5])
    text = g.rtbl.text()
    assert text.splitlines()[0].split() == ["Service", "Hosts", "Weights"]
    assert text.splitlines()[1].split() == ["api", "h1:8080,h2:8080", "1,2.5"]
    assert [c.header for c in g.rtbl.table().columns] == ["Service", "Hosts", "Weights"]


def test_experiment_tags_routing_events(g: Galileo, raw: redis.Redis) -> None:
    exp = g.experiment.start(name="run", creator="me")
    assert g.experiment.current() == exp
    with pytest.raises(ValidationError, match="still running"):
        g.experiment.start()
    g.rtbl.set("api", "h:1")
    assert g.experiment.stop() == exp and g.experiment.current() is None
    assert g.experiment.stop() is None
    events = [decode_event(f[b"e"]) for _id, f in raw.xrange(g.keys.events)]
    assert [e.kind for e in events] == [EventKind.EXPERIMENT_START, EventKind.ROUTING_SET,
                                        EventKind.EXPERIMENT_STOP]
    assert all(e.exp_id == exp for e in events)
    assert events[0].data == {"name": "run", "creator": "me"}
    import re
    assert re.fullmatch(r"\d{12}-[0-9a-z]{4}", exp)


def test_tracing_switch(g: Galileo, raw: redis.Redis) -> None:
    g.tracing(False)
    assert raw.get(g.keys.tracing) == b"off"
    g.tracing(True)
    assert raw.get(g.keys.tracing) == b"on"
