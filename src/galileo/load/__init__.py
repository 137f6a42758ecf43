"""The load engine: arrival processes, open-loop schedules, a fast HTTP/1.1 client and client
groups that emit one :class:`galileo.protocol.Trace` per request. Pure asyncio + HTTP: this
package knows nothing about Redis or storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.load.arrivals import ArrivalProcess
    from galileo.load.group import LoadGroup, TraceContext, next_request_id
    from galileo.load.httpclient import HttpClient, build_request, new_event_loop, parse_address
    from galileo.load.schedule import Schedule
    from galileo.load.stats import StatsWindow, decode_histogram, merge_histograms

__all__ = [
    "ArrivalProcess",
    "HttpClient",
    "LoadGroup",
    "Schedule",
    "StatsWindow",
    "TraceContext",
    "build_request",
    "decode_histogram",
    "merge_histograms",
    "new_event_loop",
    "next_request_id",
    "parse_address",
]

__getattr__ = lazy_exports(__name__, {
    "ArrivalProcess": "galileo.load.arrivals",
    "LoadGroup": "galileo.load.group",
    "HttpClient": "galileo.load.httpclient",
    "Schedule": "galileo.load.schedule",
    "StatsWindow": "galileo.load.stats",
    "TraceContext": "galileo.load.group",
    "build_request": "galileo.load.httpclient",
    "decode_histogram": "galileo.load.stats",
    "merge_histograms": "galileo.load.stats",
    "new_event_loop": "galileo.load.httpclient",
    "next_request_id": "galileo.load.group",
    "parse_address": "galileo.load.httpclient",
})
