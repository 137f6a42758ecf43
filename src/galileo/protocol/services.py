"""Services and their instances: what the user declares (:class:`ServiceSpec`), what the
reconciler assigns to a node (:class:`InstanceSpec`), what a node agent reports
(:class:`InstanceStatus`, :class:`NodeInfo`).

Keys (see :class:`~galileo.protocol.Keys`): ``services:desired`` hash (name → ServiceSpec),
``node:<n>`` heartbeat (NodeInfo, expires after ``NODE_TTL_S``), ``node:<n>:assigned`` hash
(instance id → InstanceSpec, written by the reconciler only), ``node:<n>:instances`` hash
(instance id → InstanceStatus, written by that node's agent only), ``services:changes`` channel
(a node or service name whose state changed: a hint to look again).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

import msgspec

NODE_TTL_S: Final = 5  # an agent that stops heartbeating is gone after this (it refreshes
# every 0.5 s; on a loaded 2-core machine its thread was seen stalling 2.6 s)
NODE_HEARTBEAT_S: Final = 1.0
DEFAULT_HEALTH_PATH: Final = "/health"
INSTANCE_PORT_BASE: Final = 9100  # ports the reconciler hands out per node, upwards

InstanceKind = Literal["app", "command", "image"]
Weighting = Literal["equal", "cpu"]


class InstanceState(StrEnum):
    STARTING = "starting"  # process started, health check not passed yet
    READY = "ready"  # health check passed
    BACKOFF = "backoff"  # exited or unhealthy; restarting after a delay
    FAILED = "failed"  # gave up (exited too often too fast); the reconciler replaces it
    REFUSED = "refused"  # the host does not allow it, or it does not fit
    STOPPED = "stopped"  # stopped on request


class ServiceSpec(msgspec.Struct, kw_only=True):
    """A service as declared: what to run, how many, with which resources, placed how."""

    name: str
    kind: InstanceKind = "app"
    what: str = ""  # app name, command name (from the host's allow-list file) or image
    args: list[str] = []
    replicas: int = 1
    cpus: float = 0.0  # CPU quota per instance in cores (0 = none)
    memory: int = 0  # memory limit per instance in bytes (0 = none)
    port: int = 0  # fixed port (one instance per host) or 0 = one handed out per node
    health: str = DEFAULT_HEALTH_PATH
    placement: str = "spread"  # policy name or module:Class (allow-listed)
    hosts: str = ""  # host name pattern (fnmatch, e.g. "pico[1-2]"), "" = any
    labels: dict[str, str] = {}  # every label must match the node's
    max_per_host: int = 0  # spread constraint: at most this many on one host (0 = no limit)
    weights: Weighting = "equal"  # routing weights: equal, or by CPU share
    max_unavailable: int = 1  # a rolling update may stop an old instance first (no room for a
    # new one beside it) only while ready instances stay >= replicas - max_unavailable
    version: int = 0


class InstanceSpec(msgspec.Struct, kw_only=True):
    """One instance assigned to one node (``stop`` = the reconciler wants it gone)."""

    id: str
    service: str
    kind: InstanceKind
    what: str
    args: list[str] = []
    port: int = 0
    cpus: float = 0.0
    memory: int = 0
    health: str = DEFAULT_HEALTH_PATH
    stop: bool = False
    placed_ns: int = 0
    reason: str = ""  # why the placement policy chose this node


class InstanceStatus(msgspec.Struct, kw_only=True):
    """An agent's report on one instance."""

    id: str
    service: str
    node: str
    port: int
    state: InstanceState
    pid: int = 0
    restarts: int = 0
    exit_code: int | None = None
    reason: str = ""  # refusal or failure, one sentence
    log_tail: list[str] = []
    cpus: float = 0.0
    memory: int = 0
    since_ns: int = 0  # when it entered this state
    address: str = ""  # the node's address for clients ("" = the node name)
    cpu_used: float | None = None  # cores used over the last heartbeat (None: not measured)

    @property
    def endpoint(self) -> str:
        return f"{self.address or self.node}:{self.port}"


class NodeInfo(msgspec.Struct, kw_only=True):
    """A node agent's heartbeat: capacity, allocation, measured use and what it allows."""

    name: str
    cpus: float  # capacity (the host cgroup's quota, or the machine's cores)
    memory: int  # capacity in bytes
    cpus_allocated: float = 0.0
    memory_allocated: int = 0
    cpu_used: float = 0.0  # cores used over the last second (whole host)
    labels: dict[str, str] = {}
    apps: list[str] = []  # built-in workloads allowed
    commands: list[str] = []  # command names allowed (from the host's file)
    image_prefixes: list[str] = []
    instances: int = 0
    ts_ns: int = 0
    address: str = ""  # how clients reach this node's instances ("" = its name)
    ports: list[int] = msgspec.field(
        default_factory=lambda: [INSTANCE_PORT_BASE, INSTANCE_PORT_BASE + 899])  # first, last

    @property
    def host(self) -> str:
        return self.address or self.name

    def allows(self, kind: str, what: str) -> bool:
        if kind == "app":
            return what in self.apps
        if kind == "command":
            return what in self.commands
        return any(what.startswith(p) for p in self.image_prefixes)


_service_decoder: Final = msgspec.msgpack.Decoder(ServiceSpec)
_instance_spec_decoder: Final = msgspec.msgpack.Decoder(InstanceSpec)
_instance_status_decoder: Final = msgspec.msgpack.Decoder(InstanceStatus)
_node_decoder: Final = msgspec.msgpack.Decoder(NodeInfo)
decode_service_spec = _service_decoder.decode
decode_instance_spec = _instance_spec_decoder.decode
decode_instance_status = _instance_status_decoder.decode
decode_node_info = _node_decoder.decode
