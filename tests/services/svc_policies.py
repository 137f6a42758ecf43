"""A researcher's own placement policy, allow-listed by the tests (``svc_policies``)."""

from __future__ import annotations

from collections.abc import Sequence

from galileo.protocol import ServiceSpec
from galileo.services.placement import NodeView, Placement


class LastByName(Placement):
    """Always the feasible node whose name sorts last."""

    name = "last-by-name"

    def choose(self, service: ServiceSpec, nodes: Sequence[NodeView]) -> tuple[NodeView, str]:
        node = max(nodes, key=lambda n: n.name)
        return node, "last by name"
