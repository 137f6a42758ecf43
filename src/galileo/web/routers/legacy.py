"""``/api``: the original Galileo's (0.x) REST routes with their original shapes, mapped onto
today's scenarios and experiment queue (and listed in the OpenAPI schema).

``POST /api/experiments`` takes 0.x's body -- ``{experiment?: {id?, name?, creator?},
configuration: {duration: "10s", interval: "2s", workloads: [{service, ticks, clients_per_host,
arrival_pattern, client?, client_parameters?}]}}`` -- and queues the equivalent scenario: each
workload runs ``clients_per_host`` clients on every live worker, and tick *i* is its total rate
(req/s) during interval *i*. The answer is the new id as a JSON string; 503 when no worker is up,
as in 0.x. ``client`` names a client app of the repository (``/api/apps``)."""

from __future__ import annotations

import contextlib
import math
import re
from typing import TYPE_CHECKING, Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from galileo.errors import NotFoundError, ValidationError
from galileo.experiments.jobs import make_job
from galileo.storage.records import Experiment, ExperimentStatus
from galileo.web.deps import GalileoDep, ServiceDep
from galileo.web.errors import error_responses
from galileo.web.schemas import ExpId, Name, record_model

router = APIRouter(prefix="/api", tags=["Galileo 0.x"], responses=error_responses(400, 503))

DEFAULT_CLIENTS_PER_HOST: Final = 3  # 0.x's default
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_ARRIVALS: Final = {"": "constant", "constant": "constant", "poisson": "poisson",
                    "exponential": "poisson", "expovariate": "poisson"}
# any case, spelled out for JSON Schema's regular expressions (no inline flags there)
ARRIVAL_PATTERN: Final = "^(" + "|".join(
    "".join(f"[{c.lower()}{c.upper()}]" for c in k) for k in sorted(_ARRIVALS) if k) + ")?$"
# a duration above zero: 10, 2.5s, 500ms, 1m, 1h (a non-zero digit before or after the point)
POSITIVE_DURATION: Final = (r"^\s*(\d*[1-9]\d*(\.\d+)?|\d+\.\d*[1-9]\d*)\s*(ms|s|m|h)?\s*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# the fields of ``Experiment`` 0.x listed (its status as plain text), and those it never had
LEGACY_EXPERIMENT_FIELDS: Final = ("id", "name", "creator", "created", "start", "end", "status")
NOT_IN_0X: Final = frozenset({"status_message", "progress", "stage", "deleted_at"})

if TYPE_CHECKING:  # the checker sees a plain model; the fields are derived at run time
    class LegacyExperimentPublic(BaseModel):
        """An experiment as 0.x listed it."""

        id: str
else:
    LegacyExperimentPublic = record_model("LegacyExperimentPublic", Experiment,
                                          only=LEGACY_EXPERIMENT_FIELDS, types={"status": str})
    LegacyExperimentPublic.__doc__ = "An experiment as 0.x listed it."


def to_seconds(value: str | float, where: str) -> float:
    """0.x's durations: ``10``, ``"10s"``, ``"500ms"``, ``"2m"``, ``"1h"``."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValidationError(f"{where}: {value!r} is not a duration like '10s' or '500ms'")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not 0 < seconds < math.inf:
        raise ValidationError(f"{where}: the duration must be positive, got {value!r}")
    return seconds


# the constraints below are the ones the route enforces, stated in the schema (422 before
# anything else is looked at); what a schema cannot say (ticks per interval) is a 400
def _positive_duration(value: str | float) -> str | float:
    try:
        to_seconds(value, "duration")
    except ValidationError as e:  # the one sentence, as a 422
        raise ValueError(str(e).split(": ", 1)[1]) from None
    return value


Duration = Annotated[str | float, AfterValidator(_positive_duration), WithJsonSchema({
    "anyOf": [{"type": "number", "exclusiveMinimum": 0},
              {"type": "string", "pattern": POSITIVE_DURATION}],
    "description": "seconds above zero, or a duration like 10s, 500ms, 2m, 1h"})]


class LegacyExperiment(_Model):
    id: ExpId | None = None
    name: str | None = Field(default=None, max_length=255)
    creator: str | None = Field(default=None, max_length=128)


class LegacyWorkload(_Model):
    service: Name
    ticks: Annotated[list[Annotated[float, Field(ge=0, allow_inf_nan=False)]],
                     Field(min_length=1, description="one rate (req/s) per interval")]
    clients_per_host: Annotated[int, Field(ge=1, le=10_000)] = DEFAULT_CLIENTS_PER_HOST
    arrival_pattern: Annotated[str | None, Field(pattern=ARRIVAL_PATTERN)] = None
    client: Name | None = None
    client_parameters: dict[str, Any] = {}


class LegacyConfiguration(_Model):
    duration: Duration
    interval: Duration
    workloads: Annotated[list[LegacyWorkload], Field(min_length=1)]


class LegacyExperimentRequest(_Model):
    experiment: LegacyExperiment | None = None
    configuration: LegacyConfiguration


def to_scenario(body: LegacyExperimentRequest, workers: int) -> dict[str, Any]:
    """The scenario equivalent to a 0.x experiment configuration on ``workers`` live workers."""
    cfg = body.configuration
    duration = to_seconds(cfg.duration, "configuration.duration")
    interval = to_seconds(cfg.interval, "configuration.interval")
    expected = round(duration / interval)
    workloads = []
    for i, w in enumerate(cfg.workloads):
        where = f"configuration.workloads[{i}]"
        if len(w.ticks) != expected:
            raise ValidationError(f"{where}.ticks: {len(w.ticks)} ticks, but a {duration:g} s "
                                  f"run at {interval:g} s intervals needs {expected}")
        arrival = _ARRIVALS.get((w.arrival_pattern or "").lower())
        if arrival is None:
            raise ValidationError(f"{where}.arrival_pattern: {w.arrival_pattern!r} is not one "
                                  f"of {', '.join(sorted(k for k in _ARRIVALS if k))}")
        request: dict[str, Any] = {"path": "/"}
        if w.client:
            request = {"generator": f"app:{w.client}", "generator_args": w.client_parameters}
        workloads.append({
            "name": f"{w.service}-{i}", "service": w.service,
            "clients": w.clients_per_host * workers, "arrival": arrival, "request": request,
            "profile": {"type": "stages",
                        "stages": [{"duration": interval, "rps": tick} for tick in w.ticks]}})
    return {"name": _name(body), "description": "submitted through Galileo 0.x's REST API",
            "duration": duration, "workloads": workloads}


def _name(body: LegacyExperimentRequest) -> str:
    exp = body.experiment
    return (exp.name if exp is not None and exp.name else "") or "Experiment"


def _public(e: Experiment) -> LegacyExperimentPublic:
    values = {name: getattr(e, name) for name in LEGACY_EXPERIMENT_FIELDS}
    return LegacyExperimentPublic(**values | {"status": e.status.value})


@router.get("", summary="The 0.x routes (method and path of each)")
def list_routes(request: Request) -> list[dict[str, str]]:
    paths: dict[str, dict[str, Any]] = request.app.openapi()["paths"]
    return [{"method": method.upper(), "path": path} for path, ops in paths.items()
            if path == "/api" or path.startswith("/api/") for method in ops]


@router.get("/worker", summary="Names of the live workers (0.x: hosts)")
def list_workers(g: GalileoDep) -> list[str]:
    return [w.name for w in g.workers()]


@router.get("/services", summary="Services with a routing record, as [{name}]")
def list_services(g: GalileoDep) -> list[dict[str, str]]:
    return [{"name": s} for s in g.rtbl.services()]


@router.get("/experiments", summary="Every experiment, newest first")
def list_experiments(service: ServiceDep) -> list[LegacyExperimentPublic]:
    return [_public(e) for e in service.list(limit=10_000)]


@router.post("/experiments", summary="Queue a 0.x experiment configuration; answers its id")
def create_experiment(body: LegacyExperimentRequest, service: ServiceDep, g: GalileoDep) -> str:
    make_job(scenario=to_scenario(body, 1))  # the content first (400), then the cluster (503)
    workers = len(g.workers())
    if not workers:  # 0.x's answer
        raise HTTPException(503, "no available hosts to execute the experiment (no live worker)")
    exp = body.experiment or LegacyExperiment()
    created = service.submit(scenario=to_scenario(body, workers), exp_id=exp.id or None,
                             name=_name(body), creator=exp.creator or "")
    return created.id


@router.get("/experiments/{exp_id}", summary="One experiment", responses=error_responses(404))
def get_experiment(exp_id: str, service: ServiceDep) -> LegacyExperimentPublic:
    return _public(service.get(exp_id))


@router.delete("/experiments/{exp_id}", summary="Cancel (when queued) and delete; answers the id",
               responses=error_responses(404))
def delete_experiment(exp_id: str, service: ServiceDep) -> str:
    exp = service.get(exp_id)
    if exp.status in (ExperimentStatus.QUEUED, ExperimentStatus.RUNNING):
        exp = service.cancel(exp_id)
    if exp.status == ExperimentStatus.RUNNING:
        raise ValidationError(f"experiment {exp_id!r} is still stopping; delete it again in a "
                              "moment")
    with contextlib.suppress(NotFoundError):  # deleted meanwhile: the same outcome
        service.delete(exp_id)
    return exp_id
