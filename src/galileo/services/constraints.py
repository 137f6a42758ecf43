"""Which nodes may hold an instance of a service: the service's constraints and the node's
allow-list and size (static), and its free capacity and ports (now)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from galileo.errors import ValidationError
from galileo.protocol import NodeInfo, ServiceSpec

__all__ = ["check_deployable", "matches"]

CAPACITY_EPS = 1e-6


def matches(spec: ServiceSpec, node: NodeInfo) -> bool:
    """The node satisfies the host pattern and every label, and allows what the service runs."""
    if spec.hosts and not fnmatch.fnmatchcase(node.name, spec.hosts):
        return False
    if any(node.labels.get(k) != v for k, v in spec.labels.items()):
        return False
    return node.allows(spec.kind, spec.what)


def fits_size(spec: ServiceSpec, node: NodeInfo) -> bool:
    return (spec.cpus <= node.cpus + CAPACITY_EPS
            and (not spec.memory or spec.memory <= node.memory))


def check_deployable(spec: ServiceSpec, nodes: Iterable[NodeInfo]) -> None:
    """Raise ValidationError (one sentence) when no live node could ever hold an instance."""
    if spec.replicas == 0:
        return
    live = sorted(nodes, key=lambda n: n.name)
    if not live:
        raise ValidationError(f"service {spec.name!r}: no node agent is running (start "
                              "`galileo node` on the hosts, or `galileo testbed up`).")
    names = ", ".join(n.name for n in live)
    constrained = [n for n in live
                   if (not spec.hosts or fnmatch.fnmatchcase(n.name, spec.hosts))
                   and all(n.labels.get(k) == v for k, v in spec.labels.items())]
    if not constrained:
        labels = ",".join(f"{k}={v}" for k, v in spec.labels.items())
        what = " and ".join(x for x in (f"hosts {spec.hosts!r}" if spec.hosts else "",
                                        f"labels {labels}" if labels else "") if x)
        raise ValidationError(f"service {spec.name!r}: {what} matches no node (nodes: {names}).")
    allowing = [n for n in constrained if n.allows(spec.kind, spec.what)]
    if not allowing:
        raise ValidationError(f"service {spec.name!r}: no node allows {spec.kind} "
                              f"{spec.what!r} (checked: {_names(constrained)}).")
    if not any(fits_size(spec, n) for n in allowing):
        largest = max(allowing, key=lambda n: n.cpus)
        if spec.cpus > largest.cpus + CAPACITY_EPS:
            raise ValidationError(f"service {spec.name!r}: cpus {spec.cpus:g} is larger than "
                                  f"any node (largest: {largest.name} with {largest.cpus:g}).")
        raise ValidationError(f"service {spec.name!r}: memory {spec.memory >> 20} MB is larger "
                              "than any node's.")


def _names(nodes: Sequence[NodeInfo]) -> str:
    return ", ".join(n.name for n in nodes)
