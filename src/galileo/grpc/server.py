"""The gRPC ``ExperimentService`` (Galileo 0.x's, extended) over the experiment service facade.

Errors map to status codes with Galileo's one-sentence message (:mod:`galileo.grpc.errors`).
``StopExperiment`` answers with the experiment as it is after stopping (a running one is waited
for, bounded: :meth:`ExperimentService.cancel`).

Access follows the REST API's rule (:mod:`galileo.access`): when ``galileo_api_token`` is set,
every RPC of both services -- writes (start, stop, the 0.x start/stop) and reads (status, list,
watch) alike, as every REST route needs the token then -- must carry the metadata
``authorization: Bearer <token>``, else it ends UNAUTHENTICATED before its handler runs. Without
a token nothing is checked, and ``galileo grpc`` binds loopback only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures
from typing import TYPE_CHECKING, Any, Final

import grpc  # type: ignore[import-untyped]
from galileo.access import LOOPBACK_HOST, bearer_token, token_matches
from galileo.errors import (
    ConfigError,
    GalileoError,
    ValidationError,
)
from galileo.experiments.interface import ExperimentsAPI, StatusView
from galileo.grpc.errors import code_for, mapped
from galileo.grpc.records import experiment_info
from galileo.grpc.stubs import pb2, pb2_grpc
from galileo.storage import Experiment

if TYPE_CHECKING:
    from pydantic import SecretStr

log = logging.getLogger(__name__)

DEFAULT_LIST_LIMIT: Final = 50
MAX_LIST_LIMIT: Final = 1000
SERVER_THREADS: Final = 16

AUTH_METADATA: Final = "authorization"  # gRPC metadata keys are lower-case
UNAUTHENTICATED_MESSAGE: Final = ("missing or wrong token: send the gRPC metadata "
                                  "'authorization: Bearer <galileo_api_token>'")


def _status_value(status: Any) -> str:
    return str(getattr(status, "value", status))


def status_answer(view: StatusView) -> str:
    """Galileo 0.x's one-line answer: ``Experiment 125 is in state RUNNING; progress 40%; …``."""
    return view.describe()


def info(exp: Experiment) -> Any:
    return experiment_info(exp)


def status_message(view: StatusView) -> Any:
    return pb2.ExperimentStatus(id=view.id, status=_status_value(view.status),
                                progress=view.progress, stage=view.stage or "",
                                message=view.message or "", answer=status_answer(view))


class ExperimentServicer(pb2_grpc.ExperimentServiceServicer):  # type: ignore[misc]
    """RPC handlers; each delegates to the experiment service."""

    def __init__(self, service: ExperimentsAPI) -> None:
        self.service = service

    @mapped
    def StartExperiment(self, request: Any, context: Any) -> Any:
        if not request.scenario and not request.script:
            raise ValidationError("StartExperiment needs a 'scenario' (YAML) or a 'script'")
        if request.scenario and request.script:
            raise ValidationError("StartExperiment takes a 'scenario' or a 'script', not both")
        exp = self.service.submit(script=request.script or None,
                                  scenario=request.scenario or None, exp_id=request.id or None,
                                  name=request.name, creator=request.creator)
        answer = (f"Started experiment id {exp.id}, name {exp.name or '-'}, "
                  f"status {_status_value(exp.status)}")
        return pb2.Answer(answer=answer, experiment=info(exp))

    @mapped
    def StopExperiment(self, request: Any, context: Any) -> Any:
        exp = self.service.cancel(_require_id(request.id))  # the state after stopping
        answer = (f"Stopped experiment id {exp.id}, name {exp.name or '-'}, "
                  f"status {_status_value(exp.status)}")
        return pb2.Answer(answer=answer, experiment=info(exp))

    @mapped
    def GetExperimentStatus(self, request: Any, context: Any) -> Any:
        return status_message(self.service.status(_require_id(request.id)))

    @mapped
    def ListExperiments(self, request: Any, context: Any) -> Any:
        if not 0 <= request.limit <= MAX_LIST_LIMIT or request.offset < 0:
            raise ValidationError(f"ListExperiments: limit must be 0..{MAX_LIST_LIMIT} and "
                                  "offset >= 0")
        exps = self.service.list(status=request.status or None, creator=request.creator or None,
                                 limit=request.limit or DEFAULT_LIST_LIMIT, offset=request.offset)
        return pb2.ExperimentList(experiments=[info(e) for e in exps])

    def WatchExperiment(self, request: Any, context: Any) -> Iterator[Any]:
        try:
            for view in self.service.watch(_require_id(request.id)):
                if not context.is_active():
                    return
                yield status_message(view)
        except GalileoError as e:
            context.abort(code_for(e), str(e))


def _require_id(exp_id: str) -> str:
    if not exp_id:
        raise ValidationError("the experiment id is empty: give one with -i/--id")
    return exp_id


class TokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuse, UNAUTHENTICATED, every call without ``authorization: Bearer <token>``."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def authorized(self, metadata: Any) -> bool:
        given = next((value for key, value in metadata or ()
                      if key.lower() == AUTH_METADATA and isinstance(value, str)), None)
        return token_matches(bearer_token(given), self._token)

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = continuation(details)
        if handler is None or self.authorized(details.invocation_metadata):
            return handler
        return _refusal(handler)


def _refuse(request: Any, context: Any) -> Any:
    context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)


def _refusal(handler: Any) -> Any:
    """A handler of ``handler``'s kind that only answers UNAUTHENTICATED."""
    if handler.request_streaming and handler.response_streaming:
        make = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        make = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        make = grpc.unary_stream_rpc_method_handler
    else:
        make = grpc.unary_unary_rpc_method_handler
    return make(_refuse, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


def create_server(service: ExperimentsAPI, port: int, host: str = LOOPBACK_HOST,
                  threads: int = SERVER_THREADS) -> tuple[Any, int]:
    """A server (not started yet) and the port it bound (``port=0``: a free one). When the
    service's settings carry ``galileo_api_token``, every call needs it (see the module)."""
    settings = getattr(service, "settings", None)
    token = getattr(settings, "api_token", None)
    interceptors = [TokenInterceptor(token)] if token is not None else []
    # no SO_REUSEPORT: with it a second server binds a port the first still listens on
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads),
                         interceptors=interceptors, options=[("grpc.so_reuseport", 0)])
    pb2_grpc.add_ExperimentServiceServicer_to_server(ExperimentServicer(service), server)
    if settings is not None:  # the original Galileo's service, on the same port
        from .legacy import LegacyExperimentServicer
        from .stubs import legacy_pb2_grpc

        legacy_pb2_grpc.add_ExperimentServiceServicer_to_server(
            LegacyExperimentServicer(service, settings), server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise ConfigError(f"cannot bind the gRPC service to {host}:{port}: port {port} on "
                          f"{host} is already in use or the address is not this host's")
    return server, int(bound)
