"""The testbed's state file (``<data_dir>/testbed/<prefix>/state.json``): every namespace,
host and process the testbed created, written *before* each thing is made so that ``down``
can remove a half-built or crashed testbed. Plus the naming and addressing rules."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from galileo.errors import ValidationError
from galileo.testbed.links import LinkSpec

__all__ = ["HostState", "ProcessState", "TestbedState", "check_prefix", "host_address",
           "owned_namespace"]

PREFIX_RE: Final = re.compile(r"^[a-z](?:[a-z0-9]{0,6}[a-z])?$")
MAX_HOSTS: Final = 200
CONTROL_SUFFIX: Final = "-ctl"
SWITCH_SUFFIX: Final = "-sw"
BRIDGE: Final = "br0"
DEFAULT_SUBNET: Final = "10.213.0.0/24"
HOST_OFFSET: Final = 10  # pico<i> gets .<10+i>; the control host .1
STATE_FILE: Final = "state.json"


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise ValidationError(f"--prefix {prefix!r} must be 1-8 lower-case letters or digits, "
                              "starting and ending with a letter.")
    return prefix


def owned_namespace(prefix: str, name: str) -> bool:
    """Whether namespace ``name`` belongs to the testbed ``prefix`` (``pico3``, ``pico-ctl``, …)."""
    return re.fullmatch(rf"{re.escape(prefix)}(\d+|{CONTROL_SUFFIX}|{SWITCH_SUFFIX})",
                        name) is not None


def host_address(subnet: str, index: int) -> str:
    """Address of host ``index`` (0 = the control host) in ``subnet``."""
    net = ipaddress.ip_network(subnet)
    return str(net.network_address + (1 if index == 0 else HOST_OFFSET + index))


@dataclass
class ProcessState:
    """One process started in a host: its role (``worker``, ``echo``, …), pid and log."""

    host: str
    role: str
    pid: int
    cmd: list[str]
    log: str


@dataclass
class HostState:
    name: str  # also the namespace and the worker name
    address: str
    zone: str = ""
    link: dict[str, Any] = field(default_factory=dict)
    partitioned: bool = False
    cpus: float | None = None  # CPU quota of the host's cgroup (cores), None = unlimited
    memory: int | None = None  # memory limit of the host's cgroup (bytes), None = unlimited
    cgroup: str = ""  # the host's cgroup (relative path), "" when cgroups are not used

    @property
    def link_spec(self) -> LinkSpec:
        return LinkSpec.from_dict(self.link)


@dataclass
class TestbedState:
    """What ``galileo testbed`` created; persisted after every step."""

    __test__ = False  # not a pytest class

    prefix: str
    directory: str
    subnet: str
    status: str = "starting"  # starting -> up
    created_ns: int = 0
    netem: bool = False
    redis_port: int = 6379
    service_port: int = 8080
    namespaces: list[str] = field(default_factory=list)
    control: HostState | None = None
    hosts: list[HostState] = field(default_factory=list)
    processes: list[ProcessState] = field(default_factory=list)
    cgroup_root: str = ""  # galileo/<prefix>: every host's cgroup is below it

    # ------------------------------------------------------------------ names
    @property
    def control_ns(self) -> str:
        return self.prefix + CONTROL_SUFFIX

    @property
    def switch_ns(self) -> str:
        return self.prefix + SWITCH_SUFFIX

    @property
    def path(self) -> Path:
        return Path(self.directory) / STATE_FILE

    def all_hosts(self) -> list[HostState]:
        return ([self.control] if self.control else []) + self.hosts

    def host(self, name: str) -> HostState:
        """A host by name (``control`` or the control namespace name for the control host)."""
        if name in ("control", self.control_ns) and self.control is not None:
            return self.control
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(["control", *(h.name for h in self.hosts)])
        raise ValidationError(f"unknown testbed host {name!r} (hosts: {known}).")

    def processes_of(self, host: str) -> list[ProcessState]:
        return [p for p in self.processes if p.host == host]

    # ------------------------------------------------------------------ persistence
    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, path: Path) -> TestbedState:
        """Read a state file; an unreadable one raises :class:`ValidationError`."""
        try:
            data = json.loads(path.read_text())
            control = data.pop("control", None)
            hosts = data.pop("hosts", [])
            processes = data.pop("processes", [])
            state = cls(**data)
            state.control = HostState(**control) if control else None
            state.hosts = [HostState(**h) for h in hosts]
            state.processes = [ProcessState(**p) for p in processes]
        except (OSError, ValueError, TypeError, AttributeError) as e:
            raise ValidationError(f"testbed state file {path} is unreadable ({e}); "
                                  "`galileo testbed down` removes the testbed anyway.") from None
        return state
