"""The original Galileo's (0.x) gRPC ``experiment.ExperimentService``, served beside Galileo's
own service on the same port so its ``client.py -c start|stop|status -i ID [-n NAME]`` works
unchanged.

0.x started an experiment by id and name, without a file; its traces were tagged with the id
until it was stopped. Here that is the experiment marker (``g.experiment``): ``StartExperiment``
starts it, ``StopExperiment`` stops it -- or cancels a queued or running experiment of the
queue with that id -- and ``GetExperimentStatus`` describes either. Every answer is the one
string of ``ExperimentStatus.status``, phrased like 0.x's ("Started experiment id 123, name
Experiment, …", "Experiment 125 is in state RUNNING; …"). Errors are status codes with
Galileo's one-sentence message, as on the modern service."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final

from galileo.errors import NotFoundError, ValidationError

from .errors import mapped
from .stubs import legacy_pb2, legacy_pb2_grpc

if TYPE_CHECKING:
    from galileo.control.galileo import Galileo
    from galileo.experiments.interface import ExperimentsAPI
    from galileo.settings import Settings

CREATOR: Final = "grpc (Galileo 0.x client)"


def _answer(text: str) -> Any:
    return legacy_pb2.ExperimentStatus(status=text)


class LegacyExperimentServicer(legacy_pb2_grpc.ExperimentServiceServicer):  # type: ignore[misc]
    """``experiment.ExperimentService`` over the experiment marker and the experiment queue."""

    def __init__(self, service: ExperimentsAPI, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self._g: Galileo | None = None
        self._lock = threading.Lock()

    def galileo(self) -> Galileo:
        with self._lock:
            if self._g is None:
                from galileo.control.galileo import Galileo

                self._g = Galileo.from_settings(self.settings)
            return self._g

    def close(self) -> None:
        with self._lock:
            if self._g is not None:
                self._g.close()
                self._g = None

    @mapped
    def StartExperiment(self, request: Any, context: Any) -> Any:
        exp_id = self.galileo().experiment.start(request.id or None, name=request.name,
                                                 creator=CREATOR)
        return _answer(f"Started experiment id {exp_id}, name {request.name or exp_id}; "
                       "traces are tagged with it until StopExperiment")

    @mapped
    def StopExperiment(self, request: Any, context: Any) -> Any:
        if not request.id:
            raise ValidationError("StopExperiment needs the experiment id")
        try:
            exp = self.service.cancel(request.id)  # the state after stopping
        except NotFoundError:  # not recorded (no recorder ran): the marker alone
            marker = self.galileo().experiment
            if marker.current() != request.id:
                raise
            marker.stop({"status": "FINISHED", "message": "stopped on request"})
            return _answer(f"Stopped experiment id {request.id}; it is in state FINISHED")
        return _answer(f"Stopped experiment id {exp.id}, name {exp.name or '-'}; it is in state "
                       f"{exp.status.value}")

    @mapped
    def GetExperimentStatus(self, request: Any, context: Any) -> Any:
        if not request.id:
            raise ValidationError("GetExperimentStatus needs the experiment id")
        if self.galileo().experiment.current() == request.id:
            return _answer(f"Experiment {request.id} is in state RUNNING; traces are tagged "
                           "with it until StopExperiment")
        try:
            return _answer(self.service.status(request.id).describe())
        except NotFoundError:
            raise NotFoundError(f"unknown experiment {request.id!r}") from None

