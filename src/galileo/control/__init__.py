"""The controller: ``Galileo`` API object, client groups, routing table, instruction language."""

from __future__ import annotations

from .galileo import Galileo
from .group import BurstHandle, ClientGroup, RateChange
from .http import Response
from .routing import RoutingTable
from .stats import Latency, SecondStats

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
