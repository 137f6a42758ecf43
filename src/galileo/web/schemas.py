"""Request and response bodies of the REST API: a create schema and a public schema per resource.

Create schemas validate the shape of the input (types, ranges, name patterns); Galileo itself then
validates the content (instruction lines, scenario fields, host:port) and answers 400 with one
sentence when it is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, create_model

from galileo.protocol import NAME_PATTERN, ArrivalKind, TelemetrySample, Trace
from galileo.protocol.registry import HOSTPORT_PATTERN
from galileo.storage.schema import ExperimentStatus

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


class ExperimentPublic(_Public):
    id: str
    name: str
    creator: str
    created: float = Field(description="unix seconds")
    start: float | None
    end: float | None
    status: ExperimentStatus
    status_message: str | None
    progress: float = Field(description="0..1")
    stage: str | None = None
    deleted_at: float | None = Field(default=None, description="moved to the trash at (unix s)")


class ExperimentStatusPublic(_Public):
    id: str
    status: ExperimentStatus
    progress: float = Field(description="0..1")
    stage: str | None = None
    message: str | None = None


def _record_model(name: str, record: type[msgspec.Struct],
                  leading: dict[str, Any] | None = None) -> type[_Public]:
    """A public schema with one field per ``record`` field (same name, type and order), after
    ``leading`` fields: the REST shape of a record is derived, never restated."""
    fields: dict[str, Any] = dict(leading or {})
    for f in msgspec.structs.fields(record):
        fields[f.name] = (f.type, ... if f.default is msgspec.NODEFAULT else f.default)
    model: type[_Public] = create_model(name, __base__=_Public, __module__=__name__, **fields)
    model.__doc__ = f"One ``{record.__name__}`` as stored."
    return model


if TYPE_CHECKING:  # the checker sees plain models; the fields are derived at run time
    class TracePublic(_Public): ...

    class TelemetryPublic(_Public): ...
else:
    TracePublic = _record_model("TracePublic", Trace)
    TelemetryPublic = _record_model("TelemetryPublic", TelemetrySample,
                                    {"exp_id": (str | None, ...)})


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


# --------------------------------------------------------------------------- workers
class WorkerPublic(_Public):
    name: str
    host: str
    pid: int
    processes: int
    labels: dict[str, str]
    started_ns: int
    heartbeat_ns: int
    clients: int
    groups: int
    version: str


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
