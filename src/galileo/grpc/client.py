"""A small client of the gRPC ``ExperimentService`` (what ``galileo grpc-client`` uses).

Given a token (``galileo_api_token``), every call carries the metadata
``authorization: Bearer <token>``; a server that refuses it (UNAUTHENTICATED) raises
:class:`ConfigError`."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import grpc  # type: ignore[import-untyped]
from galileo.errors import BusError, ConfigError, GalileoError, NotFoundError, ValidationError
from galileo.grpc.stubs import legacy_pb2, legacy_pb2_grpc, pb2, pb2_grpc

if TYPE_CHECKING:
    from pydantic import SecretStr

DEFAULT_TIMEOUT_S: Final = 10.0


def target(host: str, port: int) -> str:
    """``host`` may carry its own port (``host:port``); else ``port`` is used."""
    return host if ":" in host.rsplit("]", 1)[-1] else f"{host}:{port}"


class ExperimentClient:
    """``with ExperimentClient("localhost:50051", token=...) as c: c.status("125").answer``."""

    def __init__(self, address: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                 token: str | SecretStr | None = None) -> None:
        self.address = address
        self.timeout_s = timeout_s
        secret = token if isinstance(token, str) or token is None else token.get_secret_value()
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {secret}"),) if secret else ())
        self._channel = grpc.insecure_channel(address)
        self._stub = pb2_grpc.ExperimentServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> ExperimentClient:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout_s,
                                               metadata=self._metadata)
        except grpc.RpcError as e:
            raise self._error(e) from None

    def _error(self, e: Any) -> GalileoError:
        code, details = e.code(), e.details() or ""
        if code == grpc.StatusCode.NOT_FOUND:
            return NotFoundError(details)
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return ValidationError(details)
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return ConfigError(f"the gRPC experiment service at {self.address} refused a "
                               "missing or wrong token: set galileo_api_token to its token "
                               "(or pass --token)")
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return BusError(f"the gRPC experiment service at {self.address} is unavailable: "
                            f"{details or code.name}")
        return GalileoError(f"gRPC {code.name} from {self.address}: {details}")

    def start(self, *, exp_id: str = "", name: str = "", scenario: str = "", script: str = "",
              creator: str = "") -> Any:
        return self._call("StartExperiment", pb2.Experiment(
            id=exp_id, name=name, scenario=scenario, script=script, creator=creator))

    def stop(self, exp_id: str) -> Any:
        return self._call("StopExperiment", pb2.ExperimentId(id=exp_id))

    def status(self, exp_id: str) -> Any:
        return self._call("GetExperimentStatus", pb2.ExperimentId(id=exp_id))

    def list(self, *, status: str = "", creator: str = "", limit: int = 0,
             offset: int = 0) -> list[Any]:
        reply = self._call("ListExperiments", pb2.ListRequest(
            status=status, creator=creator, limit=limit, offset=offset))
        return list(reply.experiments)

    def original(self, command: str, exp_id: str, name: str = "") -> str:
        """One call of the original Galileo's (0.x) ``experiment.ExperimentService`` --
        ``start``, ``stop`` or ``status`` -- exactly as its client.py made it; the answer."""
        stub = legacy_pb2_grpc.ExperimentServiceStub(self._channel)
        if command == "start":
            call, request = stub.StartExperiment, legacy_pb2.Experiment(id=exp_id, name=name)
        elif command == "stop":
            call, request = stub.StopExperiment, legacy_pb2.Experiment(id=exp_id, name=name)
        elif command == "status":
            call, request = stub.GetExperimentStatus, legacy_pb2.ExperimentId(id=exp_id)
        else:
            raise ValidationError(f"the original service has no {command!r}; use start, stop "
                                  "or status")
        try:
            return str(call(request, timeout=self.timeout_s, metadata=self._metadata).status)
        except grpc.RpcError as e:
            raise self._error(e) from None

    def watch(self, exp_id: str, timeout_s: float | None = None) -> Iterator[Any]:
        """Status messages until the experiment ends (or ``timeout_s`` passes)."""
        stream = self._stub.WatchExperiment(pb2.ExperimentId(id=exp_id), timeout=timeout_s,
                                            metadata=self._metadata)
        try:
            yield from stream
        except grpc.RpcError as e:
            raise self._error(e) from None
        finally:
            stream.cancel()
