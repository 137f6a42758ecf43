"""Request and arrival specs, the commands a controller sends workers, and replies."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import msgspec

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- request specs
class RequestSpec(msgspec.Struct, kw_only=True, frozen=True):
    """What a client sends. Either a fixed request or a user ``generator`` (``module:callable``
    returning an object with ``next_request() -> RequestSpec | dict``)."""

    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = {}
    body: bytes | None = None
    json: Any = None
    generator: str | None = None
    generator_args: dict[str, Any] = {}


class ArrivalKind(StrEnum):
    CONSTANT = "constant"
    POISSON = "poisson"
    DISTRIBUTION = "distribution"  # any ``random.Random`` method by name, e.g. ``lognormvariate``
    TRACE = "trace"  # prerecorded inter-arrival times, replayed (scaled by rate if given)


class ArrivalSpec(msgspec.Struct, kw_only=True, frozen=True):
    kind: ArrivalKind = ArrivalKind.CONSTANT
    distribution: str | None = None
    params: list[float] = []
    intervals_s: list[float] = []
    limit: int | None = None  # stop after this many requests (per group)
    seed: int | None = None


# --------------------------------------------------------------------------- commands
class Ping(msgspec.Struct, tag="ping", kw_only=True):
    corr: str
    sent_ns: int


class SpawnGroup(msgspec.Struct, tag="spawn", kw_only=True):
    corr: str
    gid: str
    service: str
    clients: list[str]  # client ids hosted on this worker
    request: RequestSpec
    arrival: ArrivalSpec
    rps: float = 0.0  # this worker's share of the group rate
    max_inflight: int = 1000  # per worker, for this group
    timeout_s: float = 10.0
    exp_id: str | None = None  # tag this group's traces; None: the cluster's current experiment


class SetRate(msgspec.Struct, tag="rps", kw_only=True):
    corr: str
    gid: str
    rps: float  # this worker's share
    ramp_s: float = 0.0
    sent_ns: int = 0


class Pause(msgspec.Struct, tag="pause", kw_only=True):
    corr: str
    gid: str


class Resume(msgspec.Struct, tag="resume", kw_only=True):
    corr: str
    gid: str


class Burst(msgspec.Struct, tag="request", kw_only=True):
    """Send ``n`` requests (this worker's share), then reply with the count done."""

    corr: str
    gid: str
    n: int


class CloseGroup(msgspec.Struct, tag="close", kw_only=True):
    corr: str
    gid: str


Command = Ping | SpawnGroup | SetRate | Pause | Resume | Burst | CloseGroup


class Reply(msgspec.Struct, kw_only=True):
    corr: str
    worker: str
    ok: bool = True
    error: str | None = None
    applied_ns: int = 0  # wall clock when the command took effect
    data: dict[str, Any] = {}
