"""Reading the services state out of Redis in one round trip per kind: desired services, live
nodes, each node's assignments and its agent's reports."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import msgspec

from galileo.bus import Bus
from galileo.protocol import (
    InstanceSpec,
    InstanceStatus,
    Keys,
    NodeInfo,
    ServiceSpec,
    decode_instance_spec,
    decode_instance_status,
    decode_node_info,
    decode_service_spec,
    valid_members,
)

__all__ = ["ClusterView", "read_view"]

_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


@dataclass
class ClusterView:
    desired: dict[str, ServiceSpec] = field(default_factory=dict)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)  # live ones
    known_nodes: list[str] = field(default_factory=list)  # every member of the node set
    assigned: dict[str, dict[str, InstanceSpec]] = field(default_factory=dict)  # node -> id ->
    reports: dict[str, dict[str, InstanceStatus]] = field(default_factory=dict)  # node -> id ->

    def instances(self, service: str | None = None) -> list[InstanceStatus]:
        """Reports of live nodes (of ``service``), sorted by endpoint."""
        out = [s for node, reps in self.reports.items() if node in self.nodes
               for s in reps.values() if service is None or s.service == service]
        return sorted(out, key=lambda s: (s.service, s.node, s.port))


def read_view(r: Bus, keys: Keys, *, with_instances: bool = True) -> ClusterView:
    """The current state (bad entries skipped)."""
    with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.services_desired)
        pipe.smembers(keys.nodes)
        desired_raw, members = pipe.execute()
    view = ClusterView()
    for value in desired_raw.values():
        try:
            spec = decode_service_spec(value)
        except _DECODE_ERRORS:
            continue
        view.desired[spec.name] = spec
    view.known_nodes = valid_members(members, "node", keys.nodes)
    if not view.known_nodes:
        return view
    with r.pipeline(transaction=False) as pipe:
        for n in view.known_nodes:
            pipe.get(keys.node(n))
        if with_instances:
            for n in view.known_nodes:
                pipe.hgetall(keys.node_assigned(n))
                pipe.hgetall(keys.node_instances(n))
        results = pipe.execute()
    count = len(view.known_nodes)
    for n, raw in zip(view.known_nodes, results[:count], strict=True):
        if raw:
            with contextlib.suppress(*_DECODE_ERRORS):
                view.nodes[n] = decode_node_info(raw)
    if with_instances:
        rest = results[count:]
        for i, n in enumerate(view.known_nodes):
            view.assigned[n] = _decode_all(rest[2 * i], decode_instance_spec)
            view.reports[n] = _decode_all(rest[2 * i + 1], decode_instance_status)
    return view


def _decode_all(raw: dict[bytes, bytes], decode):  # type: ignore[no-untyped-def]
    out = {}
    for value in (raw or {}).values():
        try:
            item = decode(value)
        except _DECODE_ERRORS:
            continue
        out[item.id] = item
    return out
