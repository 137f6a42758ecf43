"""The controller: ``Galileo`` API object, client groups, routing table, instruction language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.control.galileo import Galileo
    from galileo.control.group import BurstHandle, ClientGroup, RateChange
    from galileo.control.http import Response
    from galileo.control.stats import Latency, SecondStats
    from galileo.routing import RoutingTable

__all__ = [
    "BurstHandle",
    "ClientGroup",
    "Galileo",
    "Latency",
    "RateChange",
    "Response",
    "RoutingTable",
    "SecondStats",
]

__getattr__ = lazy_exports(__name__, {
    "BurstHandle": "galileo.control.group",
    "ClientGroup": "galileo.control.group",
    "Galileo": "galileo.control.galileo",
    "Latency": "galileo.control.stats",
    "RateChange": "galileo.control.group",
    "Response": "galileo.control.http",
    "RoutingTable": "galileo.routing",
    "SecondStats": "galileo.control.stats",
})
