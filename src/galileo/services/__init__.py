"""Services on the cluster: declared (:class:`Services`, ``g.services``), placed and kept
running by the :class:`~galileo.services.reconciler.Reconciler`, run by the node agents
(:class:`~galileo.services.agent.NodeAgent`, ``galileo node``). See ``docs/services.md``."""

from __future__ import annotations

from galileo.services.api import Services
from galileo.services.spec import parse_services, read_services_file, service_spec

__all__ = ["Services", "parse_services", "read_services_file", "service_spec"]
