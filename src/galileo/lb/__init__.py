"""``galileo lb``: an HTTP/1.1 reverse proxy whose backends and weights follow the routing table,
with pluggable balancing policies, passive/active health, lb traces, and a sync that drives a
running HAProxy from the routing table. See docs/lb.md.

    from galileo.lb import Policy            # subclass it for your own policy
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.lb.backends import Backend, HealthConfig
    from galileo.lb.balancer import Balancer, ProxyConfig, Timeouts
    from galileo.lb.commands import switch_policy
    from galileo.lb.haproxy import HaproxySync, RuntimeApi
    from galileo.lb.policies import Policy, RequestInfo, load_policy
    from galileo.lb.server import LbOptions, serve

__all__ = ["Backend", "Balancer", "HaproxySync", "HealthConfig", "LbOptions", "Policy",
           "ProxyConfig", "RequestInfo", "RuntimeApi", "Timeouts", "load_policy", "serve",
           "switch_policy"]

__getattr__ = lazy_exports(__name__, {
    "Backend": "galileo.lb.backends",
    "HealthConfig": "galileo.lb.backends",
    "Balancer": "galileo.lb.balancer",
    "ProxyConfig": "galileo.lb.balancer",
    "Timeouts": "galileo.lb.balancer",
    "switch_policy": "galileo.lb.commands",
    "HaproxySync": "galileo.lb.haproxy",
    "RuntimeApi": "galileo.lb.haproxy",
    "Policy": "galileo.lb.policies",
    "RequestInfo": "galileo.lb.policies",
    "load_policy": "galileo.lb.policies",
    "LbOptions": "galileo.lb.server",
    "serve": "galileo.lb.server",
})
