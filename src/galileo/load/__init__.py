"""The load engine: arrival processes, open-loop schedules, a fast HTTP/1.1 client and client
groups that emit one :class:`galileo.protocol.Trace` per request. Pure asyncio + HTTP: this
package knows nothing about Redis or storage."""

from galileo.load.arrivals import ArrivalProcess
from galileo.load.group import ClientGroup, TraceContext, next_request_id
from galileo.load.httpclient import HttpClient, build_request, new_event_loop, parse_address
from galileo.load.schedule import Schedule
from galileo.load.stats import StatsWindow, decode_histogram, merge_histograms

__all__ = [
    "ArrivalProcess",
    "ClientGroup",
    "HttpClient",
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
