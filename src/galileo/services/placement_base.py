"""What a placement policy sees and implements: :class:`NodeView` and :class:`Placement`
(the built-in policies are in :mod:`galileo.services.placement`, the scheduling lab's in
:mod:`galileo.services.lab_placement`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from galileo.errors import ConfigError
from galileo.protocol import NodeInfo, ServiceSpec

__all__ = ["NodeView", "Placement"]


@dataclass
class NodeView:
    """A node as placement sees it (allocation updated as instances are placed)."""

    info: NodeInfo
    cpus_allocated: float
    memory_allocated: int
    of_service: int  # instances of the service being placed already on this node
    instances: int
    services: dict[str, int] = field(default_factory=dict)  # service -> its instances here
    specs: Mapping[str, ServiceSpec] = field(default_factory=dict)  # every declared service

    @property
    def name(self) -> str:
        return self.info.name

    def share_after(self, cpus: float) -> float:
        return (self.cpus_allocated + cpus) / max(self.info.cpus, 1e-9)


class Placement(ABC):
    """Chooses a node among feasible ``nodes`` (never empty) for one instance of ``service``."""

    name: ClassVar[str] = ""

    def __init__(self, **options: str) -> None:
        if options:
            raise ConfigError(f"placement {self.name!r} takes no options, got {sorted(options)}.")

    @abstractmethod
    def choose(self, service: ServiceSpec, nodes: Sequence[NodeView]) -> tuple[NodeView, str]:
        """The node and a short reason."""

    def choose_many(self, service: ServiceSpec, nodes: Sequence[NodeView], count: int,
                    cluster: Sequence[NodeView] = ()) -> list[tuple[NodeView, str]]:
        """Nodes (among the feasible ``nodes``) for up to ``count`` instances of ``service``
        planned together, in placing order; ``cluster`` is every live node, feasible or not.
        The reconciler places them one by one, re-checking each node's feasibility, and asks
        again for whatever is left. Default: one :meth:`choose` per call."""
        return [self.choose(service, nodes)]

    def prepare(self, service: ServiceSpec) -> str:
        """Check ``service`` against this policy when it is declared (a ConfigError of one
        sentence refuses it) and return the placement text to store. Default: unchanged."""
        return service.placement
