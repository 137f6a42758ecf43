"""Declarative YAML scenarios (pydantic): workloads with rate profiles, routing changes at given
times, a duration and thresholds. :func:`load_scenario` reports EVERY problem with its path in
the document (``workloads[1].profile.stages[0].duration: …``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from galileo.errors import GalileoError, ValidationError
from galileo.protocol import check_name

from .profiles import PROFILE_TYPES, Profile, RateChange
from .thresholds import Threshold

BUILTIN_APPS = ("echo", "classify", "digits")


class ScenarioError(ValidationError):
    """A scenario with problems; ``problems`` lists each as ``path: what is wrong``."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _named(kind: str) -> Callable[[str], str]:
    """A field validator accepting only names ``protocol.check_name`` accepts for ``kind``."""

    def check(value: str) -> str:
        try:
            return check_name(kind, value)
        except ValidationError as e:
            raise ValueError(str(e)) from None

    return check


def _check_thresholds(values: list[str]) -> list[str]:
    for v in values:
        Threshold.parse(v)
    return values


class Request(_Model):
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = {}
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    generator: str | None = None
    generator_args: dict[str, Any] = {}

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method.upper(), "path": self.path,
                               "headers": self.headers}
        if self.body is not None:
            out["body"] = self.body.encode()
        if self.json_body is not None:
            out["json"] = self.json_body
        if self.generator:
            out["generator"], out["generator_args"] = self.generator, self.generator_args
        return out


class Arrival(_Model):
    kind: Literal["constant", "poisson", "distribution", "trace"] = "constant"
    distribution: str | None = None
    params: list[float] = []
    intervals_s: list[float] = []
    seed: int | None = None


class Workload(_Model):
    name: str = ""
    service: str
    clients: Annotated[int, Field(ge=1, le=100_000)] = 1
    request: Request = Request()
    hosts: str | None = None  # worker name / host pattern (fnmatch)
    worker_labels: dict[str, str] = {}
    arrival: Literal["constant", "poisson"] | Arrival = "constant"
    profile: Profile
    thresholds: list[str] = []
    max_inflight: Annotated[int, Field(ge=1)] = 1000
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    # a worker of the group dies: move its share of the rate to the others, or run degraded
    on_worker_loss: Literal["replace", "degrade"] = "replace"

    _check = field_validator("thresholds")(_check_thresholds)

    _service = field_validator("service")(_named("service"))

    def arrival_spec(self) -> str | dict[str, Any]:
        return self.arrival if isinstance(self.arrival, str) else self.arrival.model_dump()

    def plan(self) -> list[RateChange]:
        return self.profile.plan()


class Route(_Model):
    hosts: Annotated[list[str], Field(min_length=1)]
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> Route:
        if self.weights is not None and len(self.weights) != len(self.hosts):
            raise ValueError(f"{len(self.weights)} weights for {len(self.hosts)} hosts")
        return self


class RoutingChange(_Model):
    at: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    service: str
    hosts: list[str] | None = None
    weights: list[float] | None = None
    remove: bool = False

    @model_validator(mode="after")
    def _what(self) -> RoutingChange:
        if self.remove == bool(self.hosts):
            raise ValueError("give either hosts (and weights) or remove: true")
        if self.hosts and self.weights is not None and len(self.weights) != len(self.hosts):
            raise ValueError(f"{len(self.weights)} weights for {len(self.hosts)} hosts")
        return self


def _check_policy(value: str) -> str:
    from galileo.lb.commands import check_policy_spec

    try:
        return check_policy_spec(value)
    except GalileoError as e:
        raise ValueError(str(e).rstrip(".")) from None


class PolicyChange(_Model):
    at: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    policy: str

    _check = field_validator("policy")(_check_policy)


class Balancer(_Model):
    """A ``galileo lb serve`` the experiment runs on the runner's machine (see docs/lb.md)."""

    name: str = "lb"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000  # 0: any free port
    policy: str = "wrr"
    start_at: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    stop_at: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None  # None: at the end
    policy_changes: list[PolicyChange] = []

    _check = field_validator("policy")(_check_policy)

    _name = field_validator("name")(_named("balancer"))


def _check_services(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entry a valid service (``galileo.services.spec``); ``keep: true`` kept after."""
    from galileo.services.spec import parse_services

    try:
        parse_services(value, "services")
    except GalileoError as e:
        raise ValueError(str(e).removeprefix("services: ").rstrip(".")) from None
    return value


class AutoscalerSpec(_Model):
    """An autoscaler the experiment runs while its load runs (see docs/autoscaling.md)."""

    service: str
    policy: str = "cpu"
    min: Annotated[int, Field(ge=0)] = 1
    max: Annotated[int, Field(ge=1)] = 10
    period: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 15.0
    cooldown: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    options: dict[str, Any] = {}

    _service = field_validator("service")(_named("service"))

    @model_validator(mode="after")
    def _check(self) -> AutoscalerSpec:
        from galileo.autoscaling import check_bounds, load_policy

        try:
            check_bounds(self.min, self.max, self.period, self.cooldown)
            if ":" not in self.policy.split(",")[0]:  # module:Class: checked when it starts
                load_policy(self.policy, self.options)
        except GalileoError as e:
            raise ValueError(str(e).rstrip(".")) from None
        return self


class Scenario(_Model):
    name: str = ""
    description: str = ""
    duration: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    apps: list[Literal["echo", "classify", "digits"]] = []  # built-in services `galileo run` starts
    routing: dict[str, Route] = {}
    routing_changes: list[RoutingChange] = []
    balancers: list[Balancer] = []
    # services deployed before the load starts, removed after unless ``keep: true``
    services: list[dict[str, Any]] = []
    services_ready_s: Annotated[float, Field(gt=0, le=600)] = 60.0
    workloads: Annotated[list[Workload], Field(min_length=1)]
    # autoscalers run from the start of the load to its end
    autoscalers: list[AutoscalerSpec] = []
    thresholds: list[str] = []
    drain_s: Annotated[float, Field(ge=0, le=60)] = 1.0  # wait for in-flight requests at the end

    _check = field_validator("thresholds")(_check_thresholds)
    _check_services = field_validator("services")(_check_services)

    @model_validator(mode="after")
    def _names(self) -> Scenario:
        seen: set[str] = set()
        for i, w in enumerate(self.workloads):
            w.name = w.name or (w.service if w.service not in seen else f"{w.service}-{i}")
            if w.name in seen:
                raise ValueError(f"workloads[{i}].name {w.name!r} is used twice")
            seen.add(w.name)
        scaled = [a.service for a in self.autoscalers]
        if len(set(scaled)) != len(scaled):
            raise ValueError("autoscalers: one per service")
        names = [b.name for b in self.balancers]
        if len(set(names)) != len(names):
            raise ValueError("balancers: each needs its own name")
        if self.duration is None and not any(w.profile.length_s() for w in self.workloads):
            raise ValueError("duration is required when no workload profile has a length")
        return self

    def loaded_services(self) -> set[str]:
        """The services the workloads send to."""
        return {w.service for w in self.workloads}

    def routed_services(self) -> set[str]:
        """The services this scenario routes or deploys itself: ``routing:``, routing changes
        that set a route, ``balancers:`` and ``services:`` entries (by name)."""
        out = set(self.routing) | {ch.service for ch in self.routing_changes if not ch.remove}
        out |= {b.name for b in self.balancers}
        out |= {str(entry["name"]) for entry in self.services if entry.get("name")}
        return out

    @property
    def length_s(self) -> float:
        if self.duration is not None:
            return self.duration
        return max(w.profile.length_s() or 0.0 for w in self.workloads)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    prev: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif prev == "profile" and part in PROFILE_TYPES:
            pass  # the discriminator pydantic inserts into the path
        elif part.startswith(("function-", "literal[", "union[")) or "[" in part:
            pass
        else:
            out += ("." if out else "") + part
        prev = part
    return out or "(document)"


def describe_errors(e: pydantic.ValidationError) -> list[str]:
    problems = []
    for err in e.errors():
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        problems.append(f"{_path(tuple(err.get('loc', ())))}: {msg}")
    return sorted(set(problems), key=problems.index)


def parse_scenario(data: str | dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate a scenario (YAML text or a dict); ``ValidationError`` lists every problem."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise ValidationError(f"{source} is not valid YAML: {where}"
                                  f"{getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{source} must be a mapping with at least 'workloads'")
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as e:
        problems = describe_errors(e)
        raise ScenarioError(f"{source} has {len(problems)} problem(s): "
                            + "; ".join(problems), problems) from None
