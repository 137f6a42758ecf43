"""A lab policy on real node agents: greedy fed by a table where kv next to checksum is terrible
and kv next to ycsb is fine places kv's replicas with ycsb (spread would not)."""

from __future__ import annotations

from pathlib import Path

from labhelpers import write_abc_table
from svchelpers import AgentStarter, wait_until

from galileo.control.galileo import Galileo
from galileo.services.reconciler import Reconciler

POLICY = "greedy"  # spread puts one kv next to checksum: the test fails with it


def test_greedy_fed_by_a_table_keeps_kv_away_from_checksum(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler, tmp_path: Path) -> None:
    table = write_abc_table(tmp_path / "profile" / "profile.npz")
    start_agent("lab1")
    start_agent("lab2")
    placement = f"{POLICY},table={table}" if POLICY != "spread" else POLICY
    g.services.run("sum", app="checksum", replicas=1, cpus=0.4, placement=placement)
    [sum_node] = _placed(g, "sum", 1)
    g.services.run("db", app="ycsb", replicas=1, cpus=0.4, placement=placement)
    [db_node] = _placed(g, "db", 1)
    assert sum_node != db_node  # checksum next to ycsb costs 0.3: the empty node wins
    g.services.run("cache", app="kv", replicas=2, cpus=0.4, placement=placement)
    nodes = _placed(g, "cache", 2)
    assert nodes == [db_node, db_node], f"kv placed on {nodes}, checksum is on {sum_node}"
    g.services.wait("cache", 45)  # and they run there
    assert sorted(s.node for s in g.services.instances("cache")) == nodes
    reasons = [str(e["reason"]) for e in _places(g) if e["name"] == "cache"]
    assert len(reasons) == 2 and all(
        r.startswith(f"{POLICY}: predicted node throughput") for r in reasons), reasons
    assert all("2 instances planned together" in r for r in reasons)  # one choose_many
    assert g.services.get("cache").placement == placement  # absolute already: stored as is


def _placed(g: Galileo, service: str, count: int) -> list[str]:
    """The nodes the reconciler placed ``count`` instances of ``service`` on (its events)."""
    wait_until(lambda: len([e for e in _places(g) if e["name"] == service]) >= count, 20,
               f"{count} placements of {service}")
    return sorted(str(e["node"]) for e in _places(g) if e["name"] == service)


def _places(g: Galileo) -> list[dict[str, object]]:
    from galileo.protocol import EventField, decode_event

    out = []
    for _id, fields in g.redis.xrange(g.keys.events):
        event = decode_event(fields[EventField])
        if event.kind == "instance_place":
            out.append({"name": event.name, **event.data})
    return out
