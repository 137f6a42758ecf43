"""What workers, groups and routing records publish about themselves."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from typing import Final

import msgspec

from galileo.errors import ValidationError
from galileo.protocol.commands import ArrivalSpec, RequestSpec
from galileo.protocol.names import check_name

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- registry
class WorkerInfo(msgspec.Struct, kw_only=True):
    name: str
    host: str
    pid: int
    processes: int
    labels: dict[str, str] = {}
    started_ns: int = 0
    heartbeat_ns: int = 0
    clients: int = 0  # clients hosted now (for least-loaded placement)
    groups: int = 0
    version: str = ""


class WorkerLossPolicy(StrEnum):
    """What a client group does when one of its workers dies: ``replace`` moves the lost
    share of the rate to the remaining workers; ``degrade`` runs on at the reduced rate."""

    REPLACE = "replace"
    DEGRADE = "degrade"


class GroupInfo(msgspec.Struct, kw_only=True):
    gid: str
    service: str
    placement: dict[str, list[str]]  # worker -> client ids
    request: RequestSpec
    arrival: ArrivalSpec
    rps: float = 0.0
    paused: bool = False
    created_ns: int = 0
    exp_id: str | None = None
    on_worker_loss: WorkerLossPolicy = WorkerLossPolicy.REPLACE
    lost: dict[str, list[str]] = {}  # worker -> client ids it hosted, for workers lost


# --------------------------------------------------------------------------- routing
# a routing record's host: ``host:port`` (optionally with http(s)://), or an http(s) URL
_PORT: Final = r"(6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3})"
HOSTPORT_PATTERN: Final = (rf"^(https?://)?[A-Za-z0-9_.\-\[\]:]+:{_PORT}$"
                           r"|^https?://[A-Za-z0-9_.\-\[\]]+$")
_HOSTPORT_RE: Final = re.compile(HOSTPORT_PATTERN)


class RoutingRecord(msgspec.Struct, kw_only=True, frozen=True):
    """Which hosts serve a service and with what (non-negative, not all zero) weights."""

    service: str
    hosts: list[str]
    weights: list[float]
    version: int = 0

    def validate(self) -> RoutingRecord:
        """Raise ``ValidationError`` (one sentence) when the record is not usable."""
        check_name("service", self.service)
        if not self.hosts:
            raise ValidationError(f"routing record for {self.service!r} has no hosts")
        if len(self.hosts) != len(self.weights):
            raise ValidationError(
                f"routing record for {self.service!r} has {len(self.hosts)} hosts but "
                f"{len(self.weights)} weights"
            )
        for h in self.hosts:
            if not isinstance(h, str) or not _HOSTPORT_RE.match(h) or not _port_ok(h):
                raise ValidationError(
                    f"routing record for {self.service!r}: bad host {h!r} (expected host:port)"
                )
        for w in self.weights:
            if not isinstance(w, int | float) or w != w or w < 0 or w == float("inf"):
                raise ValidationError(
                    f"routing record for {self.service!r}: weight {w!r} must be a finite "
                    "number >= 0"
                )
        if not any(w > 0 for w in self.weights):
            raise ValidationError(f"routing record for {self.service!r}: all weights are zero")
        return self


def _port_ok(host: str) -> bool:
    tail = host.rsplit(":", 1)[-1]
    return not tail.isdigit() or 0 < int(tail) < 65536
