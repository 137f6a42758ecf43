"""Per-container and per-service telemetry: cgroup v2 files and named processes.

Cgroup metrics (``<kind>`` is ``docker_``, ``kubernetes_`` or empty for cgroups the user names;
the subsystem is the container id (12 characters) or the user's name):

=======================  ================================================  =========
<kind>cgrp_cpu/<name>    CPU time used over the window (``cpu.stat``)      % of one core
<kind>cgrp_memory/<name> memory charged now (``memory.current``)           bytes
<kind>cgrp_read/<name>   bytes read over the window (``io.stat`` rbytes)   bytes/s
<kind>cgrp_write/<name>  bytes written over the window (``io.stat``)       bytes/s
=======================  ================================================  =========

Process metrics (a named process and all its children, e.g. a service Galileo started):
``proc_cpu/<name>`` (% of one core), ``proc_memory/<name>`` (RSS bytes), ``proc_read/<name>`` and
``proc_write/<name>`` (bytes/s).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from galileo.telemetry.instruments import NS_PER_S, Instrument, Reading

log = logging.getLogger(__name__)

DISCOVER_INTERVAL_S: Final = 10.0
PROC_RESOLVE_INTERVAL_S: Final = 5.0
CONTAINER_ID_LEN: Final = 12
_DOCKER_GLOBS: Final = ("system.slice/docker-*.scope", "docker/*")
_KUBE_ROOTS: Final = ("kubepods.slice", "kubepods")
_KUBE_PREFIXES: Final = ("cri-containerd-", "crio-", "docker-")


def cgroup2_mount(mounts: Path = Path("/proc/mounts")) -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or ``…/unified``), or None."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            return Path(parts[1])
    return None


def _container_id(path: Path) -> str:
    name = path.name.removesuffix(".scope")
    for prefix in (*_KUBE_PREFIXES, "docker-"):
        name = name.removeprefix(prefix)
    return name[:CONTAINER_ID_LEN]


def discover_containers(root: Path) -> dict[str, tuple[str, Path]]:
    """Docker and Kubernetes container cgroups under ``root``: {key: (kind, path)}."""
    found: dict[str, tuple[str, Path]] = {}
    for pattern in _DOCKER_GLOBS:
        for path in root.glob(pattern):
            if path.is_dir() and (path / "cgroup.procs").exists():
                cid = _container_id(path)
                found[f"docker:{cid}"] = ("docker_", path)
    for kube in _KUBE_ROOTS:
        base = root / kube
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if not path.is_dir() or _is_pod(path.name):
                continue
            if path.name.startswith(_KUBE_PREFIXES) or _is_pod(path.parent.name):
                cid = _container_id(path)
                found[f"kubernetes:{cid}"] = ("kubernetes_", path)
    return found


def _is_pod(name: str) -> bool:
    """A pod-level cgroup (``pod<uid>`` or ``kubepods-…-pod<uid>.slice``), not a container."""
    return "pod" in name.removeprefix("kubepods") and not name.startswith(_KUBE_PREFIXES)


@dataclass
class CgroupCounters:
    cpu_usec: float | None
    memory: float | None
    read: float | None
    write: float | None


def read_cgroup(path: Path) -> CgroupCounters:
    """CPU µs, current memory and io bytes of one cgroup v2 directory (None when absent)."""
    cpu = memory = read = write = None
    with contextlib.suppress(OSError):
        for line in (path / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                cpu = float(value)
    with contextlib.suppress(OSError, ValueError):
        memory = float((path / "memory.current").read_text())
    with contextlib.suppress(OSError):
        read = write = 0.0
        for line in (path / "io.stat").read_text().splitlines():
            for field in line.split()[1:]:
                key, _, value = field.partition("=")
                if key == "rbytes":
                    read += float(value)
                elif key == "wbytes":
                    write += float(value)
    return CgroupCounters(cpu, memory, read, write)


class CgroupInstrument(Instrument):
    """Named cgroups plus (``discover``) every Docker/Kubernetes container cgroup."""

    name = "cgroup"

    def __init__(self, named: Mapping[str, Path] | None = None, *, discover: bool = True,
                 root: Path | None = None) -> None:
        self.root = root if root is not None else cgroup2_mount()
        self.named = {k: Path(v) for k, v in (named or {}).items()}
        self.discover = discover and self.root is not None
        self._found: dict[str, tuple[str, Path]] = {}
        self._next_discovery = 0.0
        self._prev: dict[str, tuple[int, CgroupCounters]] = {}

    def targets(self) -> dict[str, tuple[str, Path]]:
        """{subsystem: (metric prefix, path)} watched now."""
        if self.discover and time.monotonic() >= self._next_discovery:
            assert self.root is not None
            self._found = discover_containers(self.root)
            self._next_discovery = time.monotonic() + DISCOVER_INTERVAL_S
        out = {key.split(":", 1)[1]: val for key, val in self._found.items()}
        out.update({name: ("", path) for name, path in self.named.items()})
        return out

    def reset(self) -> None:
        self._prev.clear()

    def sample(self, now_ns: int) -> list[Reading]:
        out: list[Reading] = []
        seen = set()
        for sub, (kind, path) in self.targets().items():
            seen.add(sub)
            current = read_cgroup(path)
            if current.memory is not None:
                out.append((f"{kind}cgrp_memory", sub, current.memory, 0))
            before = self._prev.get(sub)
            self._prev[sub] = (now_ns, current)
            if before is None or now_ns <= before[0]:
                continue
            window = now_ns - before[0]
            for metric, now_v, old_v, scale in (
                ("cgrp_cpu", current.cpu_usec, before[1].cpu_usec, 100.0 / 1e6),
                ("cgrp_read", current.read, before[1].read, 1.0),
                ("cgrp_write", current.write, before[1].write, 1.0),
            ):
                if now_v is not None and old_v is not None and now_v >= old_v:
                    out.append((f"{kind}{metric}", sub,
                                (now_v - old_v) * NS_PER_S / window * scale, window))
        for gone in set(self._prev) - seen:
            del self._prev[gone]
        return out


@dataclass
class ProcessTarget:
    """A process named by pid or by a command-line substring (resolved again when it ends)."""

    pid: int | None = None
    pattern: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ProcessTarget:
        return cls(pid=int(spec)) if spec.isdigit() else cls(pattern=spec)

    def resolve(self) -> list[psutil.Process]:
        if self.pid is not None:
            with contextlib.suppress(psutil.Error):
                return [psutil.Process(self.pid)]
            return []
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            if self.pattern and self.pattern in cmdline and proc.pid != _own_pid():
                found.append(proc)
        return found


def _own_pid() -> int:
    import os

    return os.getpid()


class ProcessInstrument(Instrument):
    """CPU, memory and io of named processes (each with its children)."""

    name = "proc"

    def __init__(self, targets: Mapping[str, ProcessTarget | int | str] | None = None) -> None:
        self.targets: dict[str, ProcessTarget] = {}
        self._procs: dict[str, list[psutil.Process]] = {}
        self._next_resolve: dict[str, float] = {}
        self._prev: dict[str, tuple[int, tuple[float, float, float]]] = {}
        for name, target in (targets or {}).items():
            self.watch(name, target)

    def watch(self, name: str, target: ProcessTarget | int | str) -> None:
        if not isinstance(target, ProcessTarget):
            target = ProcessTarget.parse(str(target))
        self.targets[name] = target
        self._next_resolve[name] = 0.0
        self._prev.pop(name, None)

    def unwatch(self, name: str) -> None:
        self.targets.pop(name, None)
        self._procs.pop(name, None)
        self._next_resolve.pop(name, None)
        self._prev.pop(name, None)

    def reset(self) -> None:
        self._prev.clear()

    def _processes(self, name: str) -> list[psutil.Process]:
        procs = [p for p in self._procs.get(name, []) if p.is_running()]
        if not procs or time.monotonic() >= self._next_resolve[name]:
            roots = self.targets[name].resolve()
            procs = list({p.pid: p for r in roots for p in _with_children(r)}.values())
            self._procs[name] = procs
            self._next_resolve[name] = time.monotonic() + PROC_RESOLVE_INTERVAL_S
        return procs

    def sample(self, now_ns: int) -> list[Reading]:
        out: list[Reading] = []
        for name in list(self.targets):
            totals = _totals(self._processes(name))
            if totals is None:
                self._prev.pop(name, None)
                continue
            cpu, rss, (rd, wr) = totals
            out.append(("proc_memory", name, rss, 0))
            before = self._prev.get(name)
            self._prev[name] = (now_ns, (cpu, rd, wr))
            if before is None or now_ns <= before[0]:
                continue
            window = now_ns - before[0]
            for metric, now_v, old_v, scale in (("proc_cpu", cpu, before[1][0], 100.0),
                                                ("proc_read", rd, before[1][1], 1.0),
                                                ("proc_write", wr, before[1][2], 1.0)):
                if now_v >= old_v:
                    out.append((metric, name, (now_v - old_v) * NS_PER_S / window * scale, window))
        return out


def _with_children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _totals(procs: Iterable[psutil.Process]) -> tuple[float, float, tuple[float, float]] | None:
    """Summed CPU seconds, RSS bytes and io (read, write) bytes; None when none is alive."""
    cpu = rss = rd = wr = 0.0
    alive = False
    for p in procs:
        try:
            with p.oneshot():
                t = p.cpu_times()
                cpu += t.user + t.system
                rss += p.memory_info().rss
                with contextlib.suppress(psutil.AccessDenied, AttributeError):
                    io = p.io_counters()
                    rd += io.read_bytes
                    wr += io.write_bytes
            alive = True
        except psutil.Error:
            continue
    return (cpu, rss, (rd, wr)) if alive else None


class NodeCgroupInstrument(Instrument):
    """The node's own figures from the cgroup that holds everything the node runs (a testbed
    host, whose cgroup has a CPU quota and a memory limit): ``cpu`` busy percent of the quota
    (of the machine's cores without one) and ``ram`` ``used``/``available`` against the limit.
    Replaces the machine-wide ``cpu`` and ``ram`` instruments (``galileo telemd --node-cgroup``).
    """

    name = "node_cgroup"

    def __init__(self, rel: str) -> None:
        from galileo.testbed.cgroups import detect

        self.rel = rel
        self.cgroups = detect()
        self._prev: tuple[int, float] | None = None

    def reset(self) -> None:
        self._prev = None

    def sample(self, now_ns: int) -> list[Reading]:
        import os

        limits = self.cgroups.limits(self.rel)
        usage = self.cgroups.usage(self.rel)
        out: list[Reading] = []
        if usage.memory is not None:
            total = limits.memory or int(psutil.virtual_memory().total)
            out += [("ram", "used", float(usage.memory), 0),
                    ("ram", "available", float(max(0, total - usage.memory)), 0)]
        if usage.cpu_usec is not None:
            before, self._prev = self._prev, (now_ns, usage.cpu_usec)
            if before is not None and now_ns > before[0]:
                cores = limits.cpus or float(os.cpu_count() or 1)
                used = (usage.cpu_usec - before[1]) * 1e3 / (now_ns - before[0])
                out.append(("cpu", "", max(0.0, min(100.0, used / cores * 100.0)),
                            now_ns - before[0]))
        return out
