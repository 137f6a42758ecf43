"""Placement policies: which live node gets the next instance of a service.

The reconciler hands a policy only *feasible* nodes (alive, matching the service's host pattern
and labels, allowing what it runs, with room for its CPU and memory, under ``max_per_host``, the
fixed port free); the policy picks one and says why (the reason goes into the
``instance_place`` event). Built in:

* ``spread`` -- fewest instances of this service, then the least allocated node (default);
* ``binpack`` -- the node that is fullest (allocated CPU share) after placing: few hosts used;
* ``least-loaded`` -- the lowest *measured* CPU use per core (the agents' heartbeat);
* ``greedy``, ``paragon``, ``medea``, ``ours``, ``metis``, ``round-robin`` -- the scheduling
  lab's schedulers on the live nodes, fed by an interference table
  (``greedy,table=profile/profile.npz``; :mod:`galileo.services.lab_placement`).

A researcher subclasses :class:`Placement` and names it ``module:Class[,key=value...]`` or by
its ``name``, from a module listed in ``galileo_services_policy_modules`` (comma-separated) of
the process that places (the reconciler): nothing is imported because a bus message named it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from galileo.plugins import PluginKind
from galileo.protocol import ServiceSpec
from galileo.services.lab_placement import LAB_PLACEMENTS
from galileo.services.placement_base import NodeView, Placement

__all__ = ["BUILTIN_PLACEMENTS", "NodeView", "Placement", "load_placement"]


class Spread(Placement):
    name = "spread"

    def choose(self, service: ServiceSpec, nodes: Sequence[NodeView]) -> tuple[NodeView, str]:
        node = min(nodes, key=lambda n: (n.of_service, n.share_after(0), n.instances, n.name))
        return node, (f"spread: {node.of_service} of {service.name} there "
                      f"(fewest among {len(nodes)} feasible)")


class Binpack(Placement):
    name = "binpack"

    def choose(self, service: ServiceSpec, nodes: Sequence[NodeView]) -> tuple[NodeView, str]:
        node = min(nodes, key=lambda n: (-n.share_after(service.cpus), n.name))
        return node, (f"binpack: {node.share_after(service.cpus):.0%} of its CPU allocated "
                      f"after placing (fullest of {len(nodes)} feasible)")


class LeastLoaded(Placement):
    name = "least-loaded"

    def choose(self, service: ServiceSpec, nodes: Sequence[NodeView]) -> tuple[NodeView, str]:
        def load(n: NodeView) -> float:
            return n.info.cpu_used / max(n.info.cpus, 1e-9)

        node = min(nodes, key=lambda n: (load(n), n.share_after(0), n.name))
        return node, (f"least-loaded: {load(node):.0%} CPU used (lowest of {len(nodes)} "
                      "feasible)")


_BUILTIN: tuple[type[Placement], ...] = (Spread, Binpack, LeastLoaded, *LAB_PLACEMENTS)
BUILTIN_PLACEMENTS: dict[str, type[Placement]] = {p.name: p for p in _BUILTIN}


PLACEMENTS: Final = PluginKind(
    "placement policy", Placement, BUILTIN_PLACEMENTS,
    allow_hint="add it to galileo_services_policy_modules where the reconciler runs")


def load_placement(spec: str, allowed_modules: Iterable[str] = ()) -> Placement:
    """The policy named by ``spec`` (``name[,key=value...]`` or ``module:Class[,...]``);
    ``module:Class`` only from an allowed module. Raises ConfigError with one sentence
    (:mod:`galileo.plugins`)."""
    return PLACEMENTS.load(spec, allowed_modules)
