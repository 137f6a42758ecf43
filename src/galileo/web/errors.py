"""Galileo errors → HTTP answers with one clear sentence (never a 500 for a user's input).

    422  the request does not match the schema (FastAPI's shape, plus a one-line ``message``)
    400  ValidationError / other GalileoError: the content is wrong (bad script line, bad host)
    401  missing or wrong bearer token (only when ``galileo_api_token`` is set)
    403  an irreversible operation (purge) on an API without a token
    404  NotFoundError: unknown experiment, group or service
    409  NoWorkersError: no live worker matches
    502  WorkerError: a worker did not answer or refused
    503  BusError (any Redis error, mapped in galileo.bus) / StorageError / ConfigError: a
         backend is unreachable
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from galileo.errors import (
    BusError,
    ConfigError,
    GalileoError,
    NotFoundError,
    NoWorkersError,
    StorageError,
    ValidationError,
    WorkerError,
)
from galileo.web.schemas import ErrorBody

log = logging.getLogger(__name__)

# most specific first: the first class the error is an instance of decides
STATUS_BY_ERROR: tuple[tuple[type[GalileoError], int], ...] = (
    (NotFoundError, 404),
    (NoWorkersError, 409),
    (WorkerError, 502),
    (BusError, 503),
    (StorageError, 503),
    (ConfigError, 503),
    (ValidationError, 400),
    (GalileoError, 400),
)

_DESCRIPTIONS = {
    400: "Galileo rejected the content of the request",
    401: "Missing or wrong bearer token",
    403: "Irreversible operations need an API protected by galileo_api_token",
    404: "Unknown experiment, group or service",
    409: "No live worker matches",
    502: "A worker did not answer or refused the command",
    503: "Redis or the experiment database is unreachable",
}


def status_for(error: GalileoError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error codes a route may answer."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


async def _galileo_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GalileoError)
    status = status_for(exc)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return _answer(status, str(exc))


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s))"
    detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in errors]
    return JSONResponse(status_code=422, content={"detail": detail, "message": message})


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(GalileoError, _galileo_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
