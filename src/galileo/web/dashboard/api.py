"""The dashboard's JSON and SSE endpoints (``/ui/api``): the live stream of a run, controls
(rate, pause/resume, stop, routing weights) and the designer. Every control goes through the
same ``galileo.control`` calls as the shells, so errors are the shells' one-line messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from galileo.errors import GalileoError, NotFoundError, ValidationError
from galileo.experiments import store
from galileo.storage import Experiment, ExperimentStatus
from galileo.web.deps import ExpDBDep, GalileoDep, ServiceDep
from galileo.web.schemas import RoutingRecordPublic

from . import designer
from .auth import require_api
from .live import TICK_S, LiveHub

router = APIRouter(prefix="/ui/api", include_in_schema=False,
                   dependencies=[Depends(require_api)])
STREAM_S = 3.0
RETRY_MS = 200
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class RateBody(BaseModel):
    rps: float = Field(ge=0, allow_inf_nan=False)
    ramp_s: float = Field(default=0.0, ge=0, le=86_400, allow_inf_nan=False)


class RoutingBody(BaseModel):
    hosts: str = Field(max_length=10_000)
    weights: str = Field(default="", max_length=10_000)


class SubmitBody(BaseModel):
    scenario: dict[str, Any]
    name: str = Field(default="", max_length=255)


def _hub(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.dashboard_live
    return hub


@router.get("/runs/{exp_id}/live")
async def live(request: Request, exp_id: str, service: ServiceDep, db: ExpDBDep,
               g: GalileoDep) -> StreamingResponse:
    """Server-sent events: a ``snapshot`` every tick while the run is live, then ``finished``
    (the page reloads into the full report) or ``gone`` (the run was deleted)."""
    await run_in_threadpool(service.get, exp_id)  # 404 before the stream starts
    hub = _hub(request)

    async def events() -> AsyncIterator[str]:
        # a stream lasts STREAM_S at most and the browser reconnects after RETRY_MS: the server
        # never waits longer than that for open streams when it is asked to stop
        yield f"retry: {RETRY_MS}\n\n"
        ends = asyncio.get_running_loop().time() + STREAM_S
        while not await request.is_disconnected() and asyncio.get_running_loop().time() < ends:
            try:  # deleted (or moved to the trash) while viewed
                exp = await run_in_threadpool(service.get, exp_id)
            except NotFoundError:
                exp = None
            if exp is None or deleted(exp):
                hub.forget(exp_id)
                yield "event: gone\ndata: {}\n\n"
                return
            if exp.status not in (ExperimentStatus.QUEUED, ExperimentStatus.RUNNING):
                hub.forget(exp_id)
                yield f"event: finished\ndata: {json.dumps({'status': exp.status.value})}\n\n"
                return
            try:
                snap = await run_in_threadpool(hub.snapshot, g, db, exp)
                yield f"event: snapshot\ndata: {snap}\n\n"
            except GalileoError as e:
                yield f"event: problem\ndata: {json.dumps({'detail': str(e)})}\n\n"
            await asyncio.sleep(TICK_S)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/runs/{exp_id}")
def run_state(exp_id: str, service: ServiceDep) -> dict[str, Any]:
    """Status of a run; 404 once it is deleted (a page showing it says so)."""
    exp = service.get(exp_id)
    if deleted(exp):
        raise NotFoundError(f"experiment {exp_id!r} is in the trash")
    return {"id": exp.id, "status": exp.status.value}


def deleted(exp: Experiment) -> bool:
    """True when ``exp`` was moved to the trash."""
    return getattr(exp, "deleted_at", None) is not None


@router.post("/groups/{gid}/rate")
def set_rate(gid: str, body: RateBody, g: GalileoDep) -> dict[str, Any]:
    change = g.group(gid).rps(body.rps, ramp=body.ramp_s)
    return {"gid": gid, "rps": change.total, "shares": change.shares}


@router.post("/groups/{gid}/pause")
def pause(gid: str, g: GalileoDep) -> dict[str, Any]:
    g.group(gid).pause()
    return {"gid": gid, "paused": True}


@router.post("/groups/{gid}/resume")
def resume(gid: str, g: GalileoDep) -> dict[str, Any]:
    g.group(gid).resume()
    return {"gid": gid, "paused": False}


@router.post("/runs/{exp_id}/stop")
def stop(exp_id: str, service: ServiceDep, db: ExpDBDep, g: GalileoDep) -> dict[str, Any]:
    """Stop a run: a queued or runner-driven job is cancelled (data kept); an experiment started
    from a shell is ended like the shell's ``exp.stop()``."""
    exp = service.cancel(exp_id)
    if exp.status == ExperimentStatus.RUNNING and not store.get_metadata(db, exp_id) \
            and g.experiment.current() == exp_id:
        g.experiment.stop()
    return {"id": exp_id, "status": service.get(exp_id).status.value}


@router.get("/cluster")
def cluster(g: GalileoDep) -> dict[str, Any]:
    import time

    now = time.time_ns()
    return {
        "workers": [{"name": w.name, "host": w.host, "labels": w.labels, "clients": w.clients,
                     "groups": w.groups, "processes": w.processes,
                     "heartbeat_age_s": round((now - w.heartbeat_ns) / 1e9, 1)}
                    for w in g.workers()],
        "routing": [RoutingRecordPublic.model_validate(r).model_dump(mode="json")
                    for r in g.rtbl.records()],
        "groups": [{"gid": grp.gid, "service": grp.service, "rps": grp.info.rps,
                    "paused": grp.info.paused, "exp_id": grp.info.exp_id}
                   for grp in g.groups()],
    }


@router.put("/routing/{service}")
def set_routing(service: str, body: RoutingBody, g: GalileoDep) -> dict[str, Any]:
    record = g.rtbl.set(service, body.hosts, body.weights.strip() or None)
    return RoutingRecordPublic.model_validate(record).model_dump(mode="json")


@router.post("/designer/plan")
def plan(doc: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return designer.preview(doc)


@router.post("/designer/yaml")
def as_yaml(doc: Annotated[dict[str, Any], Body()]) -> PlainTextResponse:
    result = designer.preview(doc)
    if not result["ok"]:
        raise ValidationError("the scenario has problems: " + "; ".join(result["problems"]))
    name = str(doc.get("name") or "scenario").replace('"', "")
    return PlainTextResponse(result["yaml"], media_type="application/yaml", headers={
        "Content-Disposition": f'attachment; filename="{name}.yaml"'})


@router.post("/designer/submit", status_code=201)
def submit(body: SubmitBody, service: ServiceDep) -> dict[str, Any]:
    exp = service.submit(scenario=designer.to_yaml(body.scenario),
                         name=body.name or str(body.scenario.get("name") or ""),
                         creator="dashboard")
    return {"id": exp.id, "status": exp.status.value, "url": f"/runs/{exp.id}"}
