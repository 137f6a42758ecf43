"""CPU and memory limits through cgroups: v2 (``cpu.max``, ``memory.max``) where the unified
hierarchy has the ``cpu`` and ``memory`` controllers, v1 (``cpu.cfs_quota_us``, ``cpuset``,
``memory.limit_in_bytes``) where only the legacy hierarchies are mounted.

A cgroup is named by a relative path (``galileo/pico/pico1``) that exists once per controller
hierarchy (v1) or once (v2). :func:`detect` picks the driver for this machine; everything else
goes through :class:`Cgroups`. Used by the testbed (a host = a cgroup) and by the node agent
(an instance = a child cgroup of its host's); nothing here talks to Redis.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from galileo.errors import ConfigError, ValidationError

__all__ = ["CgroupUsage", "Cgroups", "Resources", "detect", "parse_memory"]

CFS_PERIOD_US: Final = 100_000
CGROUP_MOUNT_ROOT: Final = "/sys/fs/cgroup"
V1_CONTROLLERS: Final = ("cpu", "cpuacct", "memory", "cpuset")
_MEMORY_RE: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_memory(text: str | int, what: str = "--memory") -> int:
    """``512M``, ``1G``, ``1.5g``, ``1048576`` → bytes (binary units). Bad input: one line."""
    if isinstance(text, int):
        value = text
    else:
        match = _MEMORY_RE.match(text.strip())
        if not match:
            raise ValidationError(f"{what} {text!r} is not a size like 512M or 2G.")
        value = int(float(match.group(1)) * _UNITS[(match.group(2) or "")[:1].lower()])
    if value <= 0:
        raise ValidationError(f"{what} must be positive, got {text!r}.")
    return value


def format_memory(value: int | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if value >= size:
            return f"{value / size:.4g}{unit}" if value % size == 0 else f"{value / size:.1f}{unit}"
    return str(value)


@dataclass(frozen=True)
class Resources:
    """A CPU quota (cores, may be fractional) and a memory limit (bytes); None = unlimited."""

    cpus: float | None = None
    memory: int | None = None
    cpuset: str = ""  # e.g. "1" or "0-1": pin to these cores (v1 cpuset / v2 cpuset.cpus)

    @classmethod
    def parse(cls, cpus: str | float | None = None, memory: str | int | None = None,
              cpuset: str = "") -> Resources:
        c: float | None = None
        if cpus not in (None, ""):
            try:
                c = float(cpus)
            except (TypeError, ValueError):
                raise ValidationError(f"--cpus {cpus!r} is not a number of cores.") from None
            if not 0.01 <= c <= 1024:
                raise ValidationError(f"--cpus must be between 0.01 and 1024, got {cpus!r}.")
        m = parse_memory(memory) if memory is not None and memory != "" else None
        if cpuset and not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", cpuset):
            raise ValidationError(f"cpuset {cpuset!r} is not a list like 0-1 or 1,3.")
        return cls(c, m, cpuset)

    @classmethod
    def parse_pair(cls, text: str, what: str) -> Resources:
        """``1,512M`` or ``0.5`` (cpus[,memory]) as in ``--host-resources pico1=1,512M``."""
        cpus, _, memory = text.partition(",")
        try:
            return cls.parse(cpus.strip() or None, memory.strip() or None)
        except ValidationError as e:
            raise ValidationError(f"{what}: {e}") from None

    @property
    def limited(self) -> bool:
        return self.cpus is not None or self.memory is not None or bool(self.cpuset)

    def describe(self) -> str:
        cpus = f"{self.cpus:g} CPU" if self.cpus is not None else "all CPUs"
        return f"{cpus}, {format_memory(self.memory) if self.memory else 'no memory limit'}"


@dataclass(frozen=True)
class CgroupUsage:
    """Counters of one cgroup: CPU time used so far (µs) and memory charged now (bytes)."""

    cpu_usec: float | None
    memory: int | None


class Cgroups:
    """One machine's cgroup driver (v1 or v2); paths are relative to each hierarchy's root."""

    def __init__(self, version: int, mounts: dict[str, Path]) -> None:
        self.version = version
        self.mounts = mounts  # v1: controller -> mount; v2: {"": mount}

    # ------------------------------------------------------------------ paths
    def dirs(self, rel: str) -> dict[str, Path]:
        """The directory of ``rel`` in every hierarchy used (one for v2)."""
        rel = rel.strip("/")
        return {c: m / rel for c, m in self.mounts.items()}

    def own_path(self, pid: int | str = "self") -> str:
        """The cgroup ``pid`` belongs to (of the cpu hierarchy for v1) as a relative path."""
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return ""
        for line in lines:
            _id, controllers, path = line.split(":", 2)
            names = controllers.split(",")
            if (self.version == 2 and _id == "0") or (self.version == 1 and "cpu" in names):
                return path.strip("/")
        return ""

    # ------------------------------------------------------------------ create / remove
    def create(self, rel: str, res: Resources) -> None:
        """Make ``rel`` (and its parents) and apply ``res``. Raises ConfigError when the kernel
        refuses (one sentence naming the file)."""
        if self.version == 2:
            self._create_v2(rel, res)
        else:
            self._create_v1(rel, res)

    def _create_v1(self, rel: str, res: Resources) -> None:
        for controller, path in self.dirs(rel).items():
            root = self.mounts[controller]
            for part in [*reversed(path.relative_to(root).parents[:-1]), path.relative_to(root)]:
                d = root / part
                if not d.is_dir():
                    _mkdir(d)
                    if controller == "cpuset":  # a new cpuset is empty: inherit its parent's
                        for name in ("cpuset.cpus", "cpuset.mems"):
                            _write(d / name, _read(d.parent / name))
        dirs = self.dirs(rel)
        if res.cpus is not None:
            _write(dirs["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(dirs["cpu"] / "cpu.cfs_quota_us", str(round(res.cpus * CFS_PERIOD_US)))
        if res.memory is not None:
            _write(dirs["memory"] / "memory.limit_in_bytes", str(res.memory))
        if res.cpuset:
            _write(dirs["cpuset"] / "cpuset.cpus", res.cpuset)

    def _create_v2(self, rel: str, res: Resources) -> None:
        root = self.mounts[""]
        path = root / rel.strip("/")
        for part in [*reversed(path.relative_to(root).parents[:-1]), path.relative_to(root)]:
            d = root / part
            # the parent must hand cpu/memory (and cpuset when used) down to its children
            wanted = ["+cpu", "+memory"] + (["+cpuset"] if res.cpuset else [])
            _write(d.parent / "cgroup.subtree_control", " ".join(wanted))
            if not d.is_dir():
                _mkdir(d)
        if res.cpus is not None:
            _write(path / "cpu.max", f"{round(res.cpus * CFS_PERIOD_US)} {CFS_PERIOD_US}")
        if res.memory is not None:
            _write(path / "memory.max", str(res.memory))
        if res.cpuset:
            _write(path / "cpuset.cpus", res.cpuset)

    def remove(self, rel: str, grace_s: float = 3.0) -> None:
        """Kill what still runs in ``rel`` (and below) and remove the directories."""
        for pid in self.pids(rel, recursive=True):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + grace_s
        for d in self.dirs(rel).values():
            if not d.is_dir():
                continue
            subs = sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
            for sub in subs:
                _rmdir(sub, deadline)
            _rmdir(d, deadline)

    def pin(self, rel: str, cpuset: str) -> None:
        """Pin ``rel`` and every cgroup below it to the cores ``cpuset`` (e.g. ``"1"``): v1
        wants children inside their parent, so parents first take the union, then every
        cgroup, deepest first, the new set."""
        Resources.parse(cpuset=cpuset)  # a malformed list: one sentence
        if self.version == 2:
            path = self.mounts[""] / rel.strip("/")
            _write(path.parent / "cgroup.subtree_control", "+cpuset")
            tree = [path, *sorted((p for p in path.rglob("*") if p.is_dir()),
                                  key=lambda p: len(p.parts))]
            for d in tree:
                if d.is_dir() and d is not path:
                    _write(d.parent / "cgroup.subtree_control", "+cpuset")
                _write(d / "cpuset.cpus", cpuset)
            return
        top = self.dirs(rel).get("cpuset")
        if top is None or not top.is_dir():
            raise ConfigError(f"cgroup {rel} has no cpuset directory to pin.")
        tree = [top, *sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts))]
        for d in tree:
            _write(d / "cpuset.cpus", f"{_read(d / 'cpuset.cpus')},{cpuset}".strip(","))
        for d in reversed(tree):
            _write(d / "cpuset.cpus", cpuset)

    # ------------------------------------------------------------------ members
    def add(self, rel: str, pid: int) -> None:
        """Move ``pid`` into ``rel`` in every hierarchy."""
        for d in self.dirs(rel).values():
            _write(d / "cgroup.procs", str(pid))

    def pids(self, rel: str, *, recursive: bool = False) -> list[int]:
        out: set[int] = set()
        for d in self.dirs(rel).values():
            files = d.rglob("cgroup.procs") if recursive else [d / "cgroup.procs"]
            for f in files:
                with contextlib.suppress(OSError, ValueError):
                    out.update(int(x) for x in f.read_text().split())
        return sorted(out)

    def mount_script(self) -> str:
        """Shell commands that mount these hierarchies at the same paths again: ``ip netns
        exec`` gives a host a fresh ``/sys`` without them (run inside its mount namespace)."""
        by_path: dict[Path, list[str]] = {}
        for controller, path in self.mounts.items():
            by_path.setdefault(path, []).append(controller)
        lines = [f"mount -t tmpfs galileo-cgroup {CGROUP_MOUNT_ROOT}"]
        for path, controllers in sorted(by_path.items()):
            lines.append(f"mkdir -p {path}")
            if self.version == 2:
                lines.append(f"mount -t cgroup2 cgroup2 {path}")
            else:
                lines.append(f"mount -t cgroup -o {','.join(sorted(controllers))} cgroup {path}")
        return " && ".join(lines)

    def exists(self, rel: str) -> bool:
        return all(d.is_dir() for d in self.dirs(rel).values())

    # ------------------------------------------------------------------ figures
    def limits(self, rel: str) -> Resources:
        """The limits set on ``rel`` (None where unlimited)."""
        d = self.dirs(rel)
        cpus: float | None = None
        memory: int | None = None
        cpuset = ""
        if self.version == 2:
            quota, _, period = _read(d[""] / "cpu.max").partition(" ")
            if quota and quota != "max":
                cpus = int(quota) / int(period or CFS_PERIOD_US)
            mem = _read(d[""] / "memory.max")
            memory = int(mem) if mem.isdigit() else None
            cpuset = _read(d[""] / "cpuset.cpus")
        else:
            quota = _read(d["cpu"] / "cpu.cfs_quota_us")
            if quota and int(quota) > 0:
                cpus = int(quota) / int(_read(d["cpu"] / "cpu.cfs_period_us") or CFS_PERIOD_US)
            mem = _read(d["memory"] / "memory.limit_in_bytes")
            memory = int(mem) if mem.isdigit() and int(mem) < (1 << 60) else None
            cpuset = _read(d["cpuset"] / "cpuset.cpus") if "cpuset" in d else ""
        return Resources(cpus, memory, cpuset)

    def usage(self, rel: str) -> CgroupUsage:
        """CPU time used so far (µs) and memory charged now (bytes); None where unreadable."""
        d = self.dirs(rel)
        cpu: float | None = None
        memory: int | None = None
        if self.version == 2:
            for line in _read(d[""] / "cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    cpu = float(value)
            mem = _read(d[""] / "memory.current")
        else:
            ns = _read(d["cpuacct"] / "cpuacct.usage") if "cpuacct" in d else ""
            cpu = int(ns) / 1000 if ns.isdigit() else None
            mem = _read(d["memory"] / "memory.usage_in_bytes")
        memory = int(mem) if mem.isdigit() else None
        return CgroupUsage(cpu, memory)


def detect(mounts: Path = Path("/proc/mounts")) -> Cgroups:
    """The driver for this machine: v2 when the unified hierarchy offers ``cpu`` and ``memory``,
    else v1 when its ``cpu``, ``cpuacct`` and ``memory`` hierarchies are mounted.
    Raises ConfigError when neither is usable."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    try:
        lines = mounts.read_text().splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read {mounts}: {e}.") from None
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        if parts[2] == "cgroup2":
            v2 = v2 or Path(parts[1])
        elif parts[2] == "cgroup":
            for option in parts[3].split(","):
                if option in V1_CONTROLLERS:
                    v1.setdefault(option, Path(parts[1]))
    if v2 is not None:
        available = set(_read(v2 / "cgroup.controllers").split())
        if {"cpu", "memory"} <= available:
            return Cgroups(2, {"": v2})
    if {"cpu", "cpuacct", "memory"} <= set(v1):
        return Cgroups(1, v1)
    raise ConfigError("no cgroup hierarchy with the cpu and memory controllers is mounted "
                      "(neither cgroup v2 with cpu+memory nor v1 cpu, cpuacct, memory).")


# ---------------------------------------------------------------------- file helpers
def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise ConfigError(f"cannot write {value!r} to {path}: {e.strerror or e}.") from None


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create cgroup {path}: {e.strerror or e}.") from None


def _rmdir(path: Path, deadline: float) -> None:
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # processes still leaving (killed a moment ago)
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)
