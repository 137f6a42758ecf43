"""FastAPI dependencies, declared once as ``Annotated`` aliases used by every router.

Tests replace a backend with ``app.dependency_overrides[get_service] = lambda: fake``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from galileo.access import token_matches
from galileo.control import Galileo
from galileo.experiments.interface import ExperimentsAPI
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.web.resources import Resources


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.resources.settings
    return settings


def get_service(resources: Annotated[Resources, Depends(get_resources)]) -> ExperimentsAPI:
    return resources.service()


def get_galileo(resources: Annotated[Resources, Depends(get_resources)]) -> Galileo:
    return resources.galileo()


def get_expdb(resources: Annotated[Resources, Depends(get_resources)]) -> ExpDB:
    return resources.expdb()


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[ExperimentsAPI, Depends(get_service)]
GalileoDep = Annotated[Galileo, Depends(get_galileo)]
ExpDBDep = Annotated[ExpDB, Depends(get_expdb)]

_bearer = HTTPBearer(auto_error=False, description="the value of galileo_api_token")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Reject the call unless it carries ``Authorization: Bearer <galileo_api_token>``."""
    token = get_settings(request).api_token
    if token is None:
        return
    if not token_matches(credentials.credentials if credentials else None, token):
        raise HTTPException(
            status_code=401,
            detail=("missing or wrong bearer token: send "
                    "'Authorization: Bearer <galileo_api_token>'"),
            headers={"WWW-Authenticate": "Bearer"},
        )
