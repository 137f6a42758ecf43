"""``/backlog``: how far the recorder is behind, per data stream (see ``docs/scale.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from galileo.protocol import Keys
from galileo.recorder.backlog import Rates, StreamBacklog, read_backlog, sample
from galileo.web.deps import GalileoDep
from galileo.web.errors import error_responses

router = APIRouter(prefix="/backlog", tags=["workers"], responses=error_responses(503))


@dataclass(frozen=True)
class BacklogPublic:
    trace_cap_entries: int
    streams: list[StreamBacklog]
    rates: list[Rates]  # per stream, in the same order (None without a window)


@router.get("", summary="Entries waiting for the recorder per stream, their age, and rates")
async def backlog(
    g: GalileoDep,
    window: Annotated[float, Query(
        ge=0, le=5, description="seconds between two readings for the rates (0: no rates)")] = 0,
) -> BacklogPublic:
    keys = Keys(g.settings.namespace)
    if window > 0:
        streams, rates = await run_in_threadpool(sample, g.redis, keys, window)
    else:
        streams = await run_in_threadpool(read_backlog, g.redis, keys)
        rates = [Rates(None, None)] * len(streams)
    return BacklogPublic(g.settings.trace_backlog_max_entries, streams, rates)
