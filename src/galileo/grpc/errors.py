"""gRPC's error mapping: a GalileoError raised by an RPC handler ends the call with a status
code and Galileo's one-sentence message. ValidationError → INVALID_ARGUMENT, NotFoundError →
NOT_FOUND, Bus/Storage/ConfigError → UNAVAILABLE, any other GalileoError → FAILED_PRECONDITION.
Shared by Galileo's ``ExperimentService`` and Galileo 0.x's (``legacy``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, TypeVar

import grpc  # type: ignore[import-untyped]
from galileo.errors import (
    BusError,
    ConfigError,
    GalileoError,
    NotFoundError,
    StorageError,
    ValidationError,
)

F = TypeVar("F", bound=Callable[..., Any])

_CODES: Final = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (ValidationError, grpc.StatusCode.INVALID_ARGUMENT),
    (BusError, grpc.StatusCode.UNAVAILABLE),
    (StorageError, grpc.StatusCode.UNAVAILABLE),
    (ConfigError, grpc.StatusCode.UNAVAILABLE),
)


def code_for(error: GalileoError) -> Any:
    """The status code for ``error``."""
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


def mapped(fn: F) -> F:
    """Turn a GalileoError raised by an RPC handler into ``context.abort(code, message)``."""

    @functools.wraps(fn)
    def wrapper(self: Any, request: Any, context: Any) -> Any:
        try:
            return fn(self, request, context)
        except GalileoError as e:
            context.abort(code_for(e), str(e))

    return wrapper  # type: ignore[return-value]
