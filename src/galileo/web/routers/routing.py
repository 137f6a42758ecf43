"""``/routing``: the live routing table -- read, set and remove a service's record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from galileo.errors import NotFoundError
from galileo.protocol import NAME_PATTERN
from galileo.web.deps import GalileoDep
from galileo.web.errors import error_responses
from galileo.web.schemas import RoutingRecordPublic, RoutingRecordSet

router = APIRouter(prefix="/routing", tags=["routing"], responses=error_responses(400, 404, 503))

ServicePath = Annotated[str, Path(pattern=NAME_PATTERN, description="service name")]


@router.get("", summary="Every routing record, by service")
def list_records(g: GalileoDep) -> list[RoutingRecordPublic]:
    return [RoutingRecordPublic.model_validate(r) for r in g.rtbl.records()]


@router.get("/{service}", summary="The routing record of one service")
def get_record(service: ServicePath, g: GalileoDep) -> RoutingRecordPublic:
    record = g.rtbl.get(service)
    if record is None:
        raise NotFoundError(f"service {service!r} has no routing record")
    return RoutingRecordPublic.model_validate(record)


@router.put("/{service}", summary="Route a service to hosts with weights")
def set_record(service: ServicePath, body: RoutingRecordSet,
               g: GalileoDep) -> RoutingRecordPublic:
    record = g.rtbl.set(service, body.hosts, body.weights)
    return RoutingRecordPublic.model_validate(record)


@router.delete("/{service}", status_code=204, summary="Remove a service's routing record")
def remove_record(service: ServicePath, g: GalileoDep) -> Response:
    g.rtbl.remove(service)
    return Response(status_code=204)
