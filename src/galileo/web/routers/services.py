"""``/services``: declared services -- list (with the live nodes), show with every instance,
declare (PUT), scale, remove. Writes are checked against the live nodes like the CLI's."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Path, Response

from galileo.errors import NotFoundError, ValidationError
from galileo.protocol import NAME_PATTERN
from galileo.services.spec import SERVICE_FIELDS, parse_services
from galileo.web.deps import GalileoDep
from galileo.web.errors import error_responses

router = APIRouter(prefix="/services", tags=["services"],
                   responses=error_responses(400, 404, 503))

NamePath = Annotated[str, Path(pattern=NAME_PATTERN, description="service name")]


@router.get("", summary="Declared services (ready/declared instances, routing) and live nodes")
def list_services(g: GalileoDep) -> dict[str, Any]:
    out = []
    for spec in g.services.declared():
        record = g.rtbl.get(spec.name)
        out.append({**msgspec.to_builtins(spec), "ready": g.services.ready(spec.name),
                    "routed": list(record.hosts) if record else []})
    return {"services": out, "nodes": msgspec.to_builtins(g.services.nodes())}


@router.get("/{name}", summary="One service and the state of each of its instances")
def show_service(name: NamePath, g: GalileoDep) -> dict[str, Any]:
    spec = g.services.get(name)
    if spec is None:
        raise NotFoundError(f"no service {name!r} is declared")
    return {**msgspec.to_builtins(spec),
            "instances": msgspec.to_builtins(g.services.instances(name))}


@router.put("/{name}", summary="Declare a service (create or replace)")
def put_service(name: NamePath, g: GalileoDep,
                body: Annotated[dict[str, Any], Body(
                    description=f"fields: {', '.join(sorted(SERVICE_FIELDS - {'name'}))}",
                    examples=[{"app": "kv", "replicas": 3, "cpus": 0.5}])]) -> dict[str, Any]:
    if "name" in body and body["name"] != name:
        raise ValidationError(f"body names service {body['name']!r}, the path {name!r}")
    [(spec, _keep)] = parse_services([{**body, "name": name}], "body")
    return msgspec.to_builtins(g.services.apply(spec))  # type: ignore[no-any-return]


@router.post("/{name}/scale", summary="Change a service's replicas")
def scale_service(name: NamePath, g: GalileoDep,
                  replicas: Annotated[int, Body(embed=True, ge=0)]) -> dict[str, Any]:
    return msgspec.to_builtins(g.services.scale(name, replicas))  # type: ignore[no-any-return]


@router.delete("/{name}", status_code=204, summary="Remove a service (instances stop)")
def remove_service(name: NamePath, g: GalileoDep) -> Response:
    g.services.remove(name)
    return Response(status_code=204)
