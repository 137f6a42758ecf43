"""Routing records that point at a temporary service and are undone when it goes away.

``galileo demo`` and ``galileo run`` start the built-in services on a free port for one run and
route them there. Left behind, such a record sends the next experiment to a dead port, so
``TemporaryRoutes`` remembers what each service was routed to before and puts it back on exit --
unless someone re-routed the service away from the temporary address in the meantime.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType

from galileo.errors import GalileoError
from galileo.protocol import RoutingRecord
from galileo.routing import RoutingTable

log = logging.getLogger(__name__)


class TemporaryRoutes:
    """``with TemporaryRoutes(g.rtbl) as routes: routes.set("echo", ["127.0.0.1:41234"])``."""

    def __init__(self, rtbl: RoutingTable) -> None:
        self._rtbl = rtbl
        self._before: dict[str, RoutingRecord | None] = {}
        self._hosts: dict[str, set[str]] = {}

    def set(self, service: str, hosts: Sequence[str],
            weights: Sequence[float] | None = None) -> RoutingRecord:
        """Route ``service`` to the temporary ``hosts``; the first call remembers the old record."""
        if service not in self._before:
            self._before[service] = self._rtbl.get(service)
        self._hosts.setdefault(service, set()).update(hosts)
        return self._rtbl.set(service, list(hosts), weights)

    def restore(self) -> list[str]:
        """Undo every record that still points at a temporary host; returns those services."""
        restored = []
        for service, before in self._before.items():
            try:
                now = self._rtbl.get(service)
                if now is None or not self._hosts[service] & set(now.hosts):
                    continue  # removed or re-routed by someone else: theirs now
                if before is None:
                    self._rtbl.remove(service)
                else:
                    self._rtbl.set(service, before.hosts, before.weights)
                restored.append(service)
            except GalileoError as e:  # Redis gone: nothing left to point anywhere
                log.warning("cannot restore the routing record of %r: %s", service, e)
        self._before.clear()
        self._hosts.clear()
        return restored

    def __enter__(self) -> TemporaryRoutes:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.restore()
