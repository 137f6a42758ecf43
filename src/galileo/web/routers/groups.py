"""``/groups``: client groups -- spawn, set the rate, close."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from galileo.control import ClientGroup
from galileo.protocol import NAME_PATTERN
from galileo.web.deps import GalileoDep
from galileo.web.errors import error_responses
from galileo.web.schemas import (
    GroupCreate,
    GroupPublic,
    RateChangePublic,
    RateUpdate,
)

router = APIRouter(prefix="/groups", tags=["client groups"],
                   responses=error_responses(400, 404, 409, 502, 503))

GroupIdPath = Annotated[str, Path(pattern=NAME_PATTERN, description="client group id")]


def _public(group: ClientGroup) -> GroupPublic:
    info = group.info
    return GroupPublic(gid=info.gid, service=info.service,
                       placement={w: list(c) for w, c in info.placement.items()},
                       rps=info.rps, paused=info.paused, created_ns=info.created_ns)


@router.get("", summary="Live client groups")
def list_groups(g: GalileoDep) -> list[GroupPublic]:
    return [_public(group) for group in g.groups()]


@router.post("", status_code=201, summary="Spawn clients of a service on matching workers")
def spawn_group(body: GroupCreate, g: GalileoDep) -> GroupPublic:
    request: dict[str, Any] | None = None
    if body.request is not None:
        request = {"method": body.request.method, "path": body.request.path,
                   "headers": body.request.headers, "json": body.request.json_body}
    group = g.spawn(body.service, body.num, hosts=body.hosts, worker_labels=body.worker_labels,
                    request=request, arrival=body.arrival.value, rps=body.rps,
                    max_inflight=body.max_inflight, timeout_s=body.timeout_s)
    return _public(group)


@router.get("/{gid}", summary="One client group")
def get_group(gid: GroupIdPath, g: GalileoDep) -> GroupPublic:
    return _public(g.group(gid))


@router.put("/{gid}/rps", summary="Set the whole group's request rate")
def set_rate(gid: GroupIdPath, body: RateUpdate, g: GalileoDep) -> RateChangePublic:
    change = g.group(gid).rps(body.rps, ramp=body.ramp_s)
    return RateChangePublic(gid=gid, total=change.total, shares=change.shares,
                            latency_ms=change.latency_ms)


@router.delete("/{gid}", status_code=204, summary="Close the group on its workers")
def close_group(gid: GroupIdPath, g: GalileoDep) -> Response:
    g.group(gid).close()
    return Response(status_code=204)
