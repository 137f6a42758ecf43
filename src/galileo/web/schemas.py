"""Request and response bodies of the REST API: a create schema and a public schema per resource.

Create schemas validate the shape of the input (types, ranges, name patterns); Galileo itself then
validates the content (instruction lines, scenario fields, host:port) and answers 400 with one
sentence when it is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, create_model

from galileo.protocol import NAME_PATTERN, ArrivalKind, TelemetrySample, Trace, WorkerInfo
from galileo.protocol.registry import HOSTPORT_PATTERN
from galileo.storage.records import Experiment, ExperimentStatus, record_fields

# the names Galileo accepts in Redis keys (``protocol.NAME_PATTERN``), bounded by the expdb columns
EXP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN, examples=["echo"])]
ExpId = Annotated[str, Field(pattern=EXP_ID_PATTERN, examples=["202405171342-k3x9"])]
Rate = Annotated[float, Field(ge=0, le=1e7, allow_inf_nan=False, description="requests/s")]
Seconds = Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)]


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    """Every error answer: one sentence saying what was wrong."""

    detail: str


# --------------------------------------------------------------------------- experiments
class _ExperimentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ExpId | None = Field(default=None, description="default: YYYYmmddHHMM-xxxx")
    name: str = Field(default="", max_length=255)
    creator: str = Field(default="", max_length=128)


class ExperimentFromScript(_ExperimentFields):
    """Submit an instruction script (parsed whole before anything runs)."""

    script: str = Field(min_length=1, max_length=1_000_000,
                        examples=["spawn echo 2\nrps * echo 10\nsleep 5\nclose * echo"])


class ExperimentFromScenario(_ExperimentFields):
    """Submit a declarative scenario: a YAML document, or the same document as JSON."""

    scenario: str | dict[str, Any]


ExperimentCreate = ExperimentFromScript | ExperimentFromScenario


class ExperimentStatusPublic(_Public):
    id: str
    status: ExperimentStatus
    progress: float = Field(description="0..1")
    stage: str | None = None
    message: str | None = None


def record_model(name: str, record: type, leading: dict[str, Any] | None = None, *,
                 only: tuple[str, ...] | None = None,
                 types: dict[str, Any] | None = None) -> type[_Public]:
    """A public schema with one field per ``record`` field (same name, type, default and
    description, in order), after ``leading`` fields: the REST shape of a record is derived,
    never restated. ``only`` keeps a subset (a shape that predates some fields), ``types``
    replaces a field's type (e.g. an enum sent as plain text)."""
    fields: dict[str, Any] = dict(leading or {})
    for f in record_fields(record):
        if only is not None and f.name not in only:
            continue
        if types and f.name in types:
            f = f._replace(type=types[f.name])
        default = ... if f.default is msgspec.NODEFAULT else f.default
        fields[f.name] = (f.type, Field(default, description=f.doc) if f.doc else default)
    model: type[_Public] = create_model(name, __base__=_Public, __module__=__name__, **fields)
    model.__doc__ = f"One ``{record.__name__}`` as stored."
    return model


if TYPE_CHECKING:  # the checker sees plain models; the fields are derived at run time
    class ExperimentPublic(_Public):
        id: str
        status: ExperimentStatus

    class TracePublic(_Public): ...

    class TelemetryPublic(_Public): ...

    class WorkerPublic(_Public): ...
else:
    ExperimentPublic = record_model("ExperimentPublic", Experiment)
    TracePublic = record_model("TracePublic", Trace)
    TelemetryPublic = record_model("TelemetryPublic", TelemetrySample,
                                   {"exp_id": (str | None, ...)})
    WorkerPublic = record_model("WorkerPublic", WorkerInfo)


class TracePage(BaseModel):
    exp_id: str
    total: int
    limit: int
    offset: int
    items: list[TracePublic]


class TelemetryPage(BaseModel):
    exp_id: str
    total: int
    limit: int
    offset: int
    items: list[TelemetryPublic]


# --------------------------------------------------------------------------- client groups
class RequestSpecCreate(BaseModel):
    """What each client sends (a fixed request; generators are for scripts and scenarios)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    path: str = Field(default="/", pattern=r"^/[^\s]*$", max_length=1024)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")


class GroupCreate(BaseModel):
    """Spawn ``num`` clients of ``service`` on the least-loaded matching workers."""

    model_config = ConfigDict(extra="forbid")

    service: Name
    num: int = Field(default=1, ge=1, le=10_000)
    hosts: str | None = Field(default=None, max_length=255,
                              description="glob on worker name or host, e.g. 'pi-*'")
    worker_labels: dict[str, str] | None = None
    request: RequestSpecCreate | None = None
    arrival: ArrivalKind = ArrivalKind.CONSTANT
    rps: Rate = 0.0
    max_inflight: int = Field(default=1000, ge=1, le=1_000_000)
    timeout_s: float = Field(default=10.0, gt=0, le=120, allow_inf_nan=False)


class GroupPublic(BaseModel):
    gid: str
    service: str
    placement: dict[str, list[str]] = Field(description="worker -> client ids")
    rps: float
    paused: bool
    created_ns: int


class RateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rps: Rate
    ramp_s: Seconds = 0.0


class RateChangePublic(BaseModel):
    gid: str
    total: float
    shares: dict[str, float] = Field(description="worker -> its share of the rate")
    latency_ms: dict[str, float] = Field(description="worker -> send-to-applied latency")


# --------------------------------------------------------------------------- routing
# stated in the schema, checked by the routing table itself (400 with the reason)
HostPort = Annotated[str, Field(json_schema_extra={"pattern": HOSTPORT_PATTERN},
                                description="host:port (port 1-65535) or an http(s) URL")]


class RoutingRecordSet(BaseModel):
    """Route a service to ``hosts`` (``host:port``) with ``weights`` (default: all equal).
    ``weights`` has one entry per host and at least one of them is above zero."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[HostPort] = Field(min_length=1, max_length=1000, examples=[["10.0.0.5:8080"]])
    weights: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        default=None, min_length=1, max_length=1000,
        description="one per host, >= 0, not all zero (default: all 1)")


class RoutingRecordPublic(_Public):
    service: str
    hosts: list[str]
    weights: list[float]
    version: int
