from __future__ import annotations

import asyncio
from typing import Any

from galileo.load.group import LoadGroup, TraceContext
from galileo.load.httpclient import new_event_loop
from galileo.load.localserver import LocalServer
from galileo.protocol import ArrivalSpec, RequestSpec, Trace


class PathCycle:
    """A user request generator (built by the worker; handed to the group here)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths, self.i = paths, 0

    def next_request(self) -> dict[str, Any]:
        self.i += 1
        return {"method": "POST", "path": self.paths[self.i % len(self.paths)], "json": [self.i]}


def run_group(server: LocalServer, seconds: float, **kw: Any) -> tuple[LoadGroup, list[Trace]]:
    traces: list[Trace] = []

    async def main() -> LoadGroup:
        g = LoadGroup(gid="g", service="s", clients=["a", "b"],
                        resolve=lambda _s: server.address, context=TraceContext("w", "e1"),
                        emit=traces.append, **kw)
        g.start()
        await asyncio.sleep(seconds)
        g.pause()
        while g.inflight:
            await asyncio.sleep(0.01)
        await g.close()
        return g

    loop = new_event_loop()
    try:
        return loop.run_until_complete(main()), traces
    finally:
        loop.close()


def test_inflight_bound_holds_requests_and_sends_them_late(http_server: LocalServer) -> None:
    g, traces = run_group(http_server, 0.5, request=RequestSpec(path="/sleep/100"),
                          arrival=ArrivalSpec(), rps=100, max_inflight=2)
    assert 45 <= len(traces) <= 55  # nothing dropped: every intended request was sent
    assert all(t.status == 200 for t in traces)
    assert g.stats.late >= len(traces) - 4
    lags = [t.sent_ns - t.intended_ns for t in traces]
    assert max(lags) > 100_000_000  # held back by the bound, visible in the trace


def test_user_generator_and_trace_fields(http_server: LocalServer) -> None:
    spec = RequestSpec(generator=f"{__name__}:PathCycle", generator_args={"paths": ["/x", "/y"]})
    g, traces = run_group(http_server, 0.3, request=spec, arrival=ArrivalSpec(limit=20), rps=200,
                          generator=PathCycle(["/x", "/y"]))
    assert len(traces) == 20 and {t.path for t in traces} == {"/x", "/y"}
    assert {t.method for t in traces} == {"POST"} and {t.exp_id for t in traces} == {"e1"}
    assert {t.client_id for t in traces} == {"a", "b"}
    assert g.stats.sent == 20 and g.stats.done == 20
