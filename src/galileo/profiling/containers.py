"""Local "containers": one service process per container, pinned and limited.

With cgroup v2 and its ``cpu`` and ``memory`` controllers available, each container gets its
own cgroup under ``<cgroup2>/galileo-profile`` with ``cpu.max`` and ``memory.max``; otherwise the
process is pinned with CPU affinity (as ``taskset``) and its address space is limited with
``RLIMIT_AS`` (``resource``/``prlimit``). Either way the container is pinned to its CPUs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from galileo.apps import ServerProcess, spawn_process
from galileo.profiling.apps import ProfileApp
from galileo.telemetry.cgroups import cgroup2_mount

log = logging.getLogger(__name__)

CGROUP_PARENT: Final = "galileo-profile"
CPU_PERIOD_US: Final = 100_000


@dataclass(frozen=True)
class Limits:
    """Per-container limits: pinned ``cpus``, CPU ``cores`` (quota) and ``memory_bytes``."""

    cpus: tuple[int, ...]
    cores: float
    memory_bytes: int


def cgroup_parent() -> Path | None:
    """A cgroup v2 directory whose children can get cpu and memory limits, or None."""
    mount = cgroup2_mount()
    if mount is None:
        return None
    try:
        controllers = (mount / "cgroup.controllers").read_text().split()
        if not {"cpu", "memory"} <= set(controllers):
            return None
        parent = mount / CGROUP_PARENT
        parent.mkdir(exist_ok=True)
        (mount / "cgroup.subtree_control").write_text("+cpu +memory")
        (parent / "cgroup.subtree_control").write_text("+cpu +memory")
        return parent
    except OSError as e:
        log.info("cgroup v2 limits unavailable (%s); using CPU affinity and RLIMIT_AS", e)
        return None


class Container:
    """A running service process with limits; ``stop()`` ends it and removes its cgroup."""

    def __init__(self, name: str, app: ProfileApp, limits: Limits,
                 parent: Path | None) -> None:
        self.name = name
        self.app = app
        self.limits = limits
        self.cgroup: Path | None = None
        self.server: ServerProcess = spawn_process([app.service], cpus=list(limits.cpus))
        try:
            self._limit(parent)
        except BaseException:
            self.stop()
            raise

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def pid(self) -> int:
        return self.server.pid

    @property
    def method(self) -> str:
        return "cgroup-v2" if self.cgroup is not None else "affinity+rlimit"

    def _limit(self, parent: Path | None) -> None:
        pids = [self.pid, *(c.pid for c in psutil.Process(self.pid).children(recursive=True))]
        if parent is not None:
            path = parent / f"{self.name}-{os.getpid()}"
            path.mkdir(exist_ok=True)
            quota = max(int(self.limits.cores * CPU_PERIOD_US), 1000)
            (path / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
            (path / "memory.max").write_text(str(self.limits.memory_bytes))
            for pid in pids:
                (path / "cgroup.procs").write_text(str(pid))
            self.cgroup = path
            return
        for pid in pids:
            with contextlib.suppress(psutil.Error, OSError):
                psutil.Process(pid).rlimit(psutil.RLIMIT_AS, (self.limits.memory_bytes,
                                                              self.limits.memory_bytes))

    def stop(self) -> None:
        self.server.stop()
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()
            self.cgroup = None
