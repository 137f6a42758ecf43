"""``/api/apps``: the client-app repository (Galileo 0.x's routes and shapes).

Upload a zip (``manifest.yml`` with a ``name``, ``generator.py`` defining ``next_request()``)
as the request body: ``curl --data-binary @app.zip -H 'Content-Type: application/zip'
localhost:5001/api/apps``. Uploads and deletions need the API token when one is set. Workers
whose operator allows client apps download ``/api/apps/{name}/download`` and check its SHA-256
(also sent as the ``X-Galileo-App-Sha256`` header).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request, Response

from galileo.storage.apps import ClientAppRepository
from galileo.web.deps import ExpDBDep
from galileo.web.errors import error_responses

router = APIRouter(prefix="/api/apps", tags=["client apps"],
                   responses=error_responses(400, 503))

SHA_HEADER: Final = "X-Galileo-App-Sha256"


def get_apps(expdb: ExpDBDep) -> ClientAppRepository:
    return ClientAppRepository(expdb)


AppsDep = Annotated[ClientAppRepository, Depends(get_apps)]


@router.get("", summary="Every client app: name, sha256, size, manifest, uploaded")
def list_apps(apps: AppsDep) -> list[dict[str, Any]]:
    return [a.public() for a in apps.list()]


@router.post("", status_code=201,  # the token, when set, is checked for every route (app.py)
             summary="Upload a client app (the zip as the body); replaces one of that name",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload_app(request: Request, apps: AppsDep) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    from galileo.errors import ValidationError

    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > apps.max_bytes:
            raise ValidationError(f"client app: more than the limit of {apps.max_bytes} bytes")
    app = await run_in_threadpool(apps.put, bytes(data))
    return app.public()


@router.get("/{name}", summary="One client app", responses=error_responses(404))
def get_app(name: str, apps: AppsDep) -> dict[str, Any]:
    return apps.get(name).public()


@router.delete("/{name}", status_code=204,
               summary="Delete a client app", responses=error_responses(404))
def delete_app(name: str, apps: AppsDep) -> Response:
    apps.delete(name)
    return Response(status_code=204)


@router.get("/{name}/download", summary="The app's zip", response_class=Response,
            responses={**error_responses(404), 200: {"content": {"application/zip": {}}}})
def download_app(name: str, apps: AppsDep) -> Response:
    app, content = apps.content(name)
    return Response(content, media_type="application/zip", headers={
        SHA_HEADER: app.sha256, "Content-Disposition": f'attachment; filename="{name}.zip"'})
