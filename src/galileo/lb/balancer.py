"""The state one balancer process shares among its connections: services and their backends
(following the routing table), the policy, timeouts, the upstream pool and the trace sink.

Choice of service (first that applies): the service given with ``--service``; the ``Host``
header's name (without port) when it names a service of the routing table; the first path
segment (``/{service}/rest`` -> ``/rest`` to the backend) when it names one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from galileo.lb.backends import HealthConfig, ServiceBackends
from galileo.lb.batching import WriteBatch
from galileo.lb.deadlines import Deadlines
from galileo.lb.policies import Policy
from galileo.lb.upstream import UpstreamPool
from galileo.protocol import LbTrace, RoutingRecord

__all__ = ["Balancer", "ProxyConfig", "Timeouts"]

log = logging.getLogger(__name__)

DEFAULT_MAX_HEADER_BYTES: Final = 16 * 1024
MAX_REMEMBERED: Final = 4096  # (Host, URL) pairs whose service and target are remembered


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """``connect_s``: to open a backend connection; ``response_s``: from sending the request
    to the response head."""

    connect_s: float = 1.0
    response_s: float = 10.0


@dataclass(frozen=True, kw_only=True)
class ProxyConfig:
    name: str = "lb"
    service: str | None = None  # serve only this service (no Host/path choice)
    timeouts: Timeouts = field(default_factory=Timeouts)
    service_timeouts: Mapping[str, Timeouts] = field(default_factory=dict)
    health: HealthConfig = field(default_factory=HealthConfig)
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    retries: int = 1  # other backends tried after a connect failure


class Balancer:
    """Per-process balancer state (one per event loop)."""

    def __init__(self, config: ProxyConfig, policy: Policy,
                 tracer: Callable[[LbTrace], None] | None = None) -> None:
        self.config = config
        self.policy = policy
        self.policy_name = policy.describe()
        self.services: dict[str, ServiceBackends] = {}
        self.writes = WriteBatch()  # writes of one loop pass, sent at its end
        self.pool = UpstreamPool(config.timeouts.connect_s, self.writes)
        self.deadlines = Deadlines()  # response timeouts of the requests in flight
        self.tracer = tracer
        self.exp_id: str | None = None
        self.tracing = tracer is not None
        self.wall_offset_ns = time.time_ns() - time.monotonic_ns()
        # (Host header, URL) -> (service name or "", URL to send); emptied on routing changes
        self._resolved: dict[tuple[bytes | None, bytes], tuple[str, bytes]] = {}

    # ------------------------------------------------------------------ live changes
    def update_route(self, service: str, record: RoutingRecord | None) -> None:
        """Take a routing record (None: removed); in effect for the next request."""
        backends = self.services.get(service)
        if backends is None:
            if record is None:
                return
            backends = self.services[service] = ServiceBackends(service)
        backends.update(record)
        if record is None:
            del self.services[service]
        self._resolved.clear()
        self.pool.drop_except({b.address for s in self.services.values() for b in s.backends})
        log.debug("service %s now routes to %s", service,
                  record.hosts if record is not None else "nothing")

    def set_policy(self, policy: Policy) -> None:
        self.policy = policy
        self.policy_name = policy.describe()
        log.info("balancing policy is now %s", self.policy_name)

    def set_context(self, exp_id: str | None, tracing: bool) -> None:
        self.exp_id = exp_id
        self.tracing = tracing and self.tracer is not None

    # ------------------------------------------------------------------ lookups
    def resolve(self, host: bytes | None, url: bytes) -> tuple[str, ServiceBackends | None, bytes]:
        """(service name, its backends or None, the URL to send) for a request."""
        if self.config.service is not None:
            return self.config.service, self.services.get(self.config.service), url
        key = (host, url)
        hit = self._resolved.get(key)  # the same few (Host, URL) pairs come again and again
        if hit is None:
            if len(self._resolved) >= MAX_REMEMBERED:
                self._resolved.clear()
            hit = self._resolved[key] = self._choose(host, url)
        name, target = hit
        return name, self.services.get(name) if name else None, target

    def _choose(self, host: bytes | None, url: bytes) -> tuple[str, bytes]:
        """(service name or "" when none matches, URL to send) by Host, then first segment."""
        if host:
            name = _host_name(host)
            if name in self.services:
                return name, url
        if url.startswith(b"/"):
            end = len(url)
            for sep in (b"/", b"?"):
                i = url.find(sep, 1)
                if 0 < i < end:
                    end = i
            name = url[1:end].decode("latin-1")
            if name in self.services:
                rest = url[end:]
                return name, rest if rest.startswith(b"/") else b"/" + rest
        return "", url

    def timeouts(self, service: str) -> Timeouts:
        config = self.config
        if not config.service_timeouts:
            return config.timeouts
        return config.service_timeouts.get(service, config.timeouts)

    def close(self) -> None:
        self.deadlines.close()
        self.pool.close()


def _host_name(host: bytes) -> str:
    text = host.decode("latin-1").strip()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text
