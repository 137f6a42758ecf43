"""The measuring rig on a running testbed: the hosts' cgroups on some cores, everything that
measures (a load worker of its own in the control namespace, Redis, the recorder, this
process) on the others, so a measurement is about interference between instances and not
about the load generator competing with them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from galileo.control import Galileo
from galileo.errors import ConfigError, NoWorkersError, ValidationError
from galileo.testbed import Testbed

WORKER_WAIT_S: Final = 60.0


@dataclass(frozen=True)
class Cores:
    """Cores of the hosts' cgroups and of the measuring side (``"1"``, ``"0"``)."""

    hosts: str
    load: str


def default_cores(hosts: str = "", load: str = "") -> Cores:
    """The last core for the hosts, the others for the load (one machine core: shared)."""
    n = os.cpu_count() or 1
    hosts = hosts or str(n - 1)
    load = load or (f"0-{n - 2}" if n > 2 else "0")
    return Cores(hosts, load)


def host_quota_note(tb: Testbed, cores: Cores) -> str:
    """A sentence when the hosts' quotas add up to more than their cores (the hosts then
    also compete with each other), else ''."""
    cg = tb.cgroups()
    quotas = [cg.limits(h.cgroup).cpus for h in tb.state.hosts if h.cgroup]
    if not quotas or any(q is None for q in quotas):
        raise ValidationError(f"testbed {tb.state.prefix!r} has hosts without a CPU quota: "
                              "start it with `galileo testbed up --cpus C` (resource-limited "
                              "hosts are what the validation measures).")
    total = sum(q for q in quotas if q is not None)
    ncores = len(_cpu_list(cores.hosts))
    if total > ncores + 1e-9:
        return (f"the hosts' quotas add up to {total:g} CPU on {ncores} core(s): hosts also "
                "compete with each other")
    return ""


def _cpu_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _taskset(pid: int, cpus: str) -> None:
    """Every thread of ``pid`` and of its children onto ``cpus``."""
    import psutil

    pids = [pid]
    with contextlib.suppress(psutil.Error):
        pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
    for p in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(p)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def rig(tb: Testbed, g: Galileo, cores: Cores, worker: str) -> Iterator[str]:
    """Pin the hosts and the measuring side, start the load worker ``worker`` (pinned, in the
    control namespace, outside every host cgroup) and yield its name; stopped afterwards."""
    for bad in (cores.hosts, cores.load):
        try:
            _cpu_list(bad)
        except ValueError:
            raise ValidationError(f"core list {bad!r} is not like 1 or 0-1") from None
    cg = tb.cgroups()
    for host in tb.state.hosts:
        if not host.cgroup:
            raise ConfigError(f"testbed host {host.name} has no cgroup to pin")
        cg.pin(host.cgroup, cores.hosts)
    for proc in tb.state.processes_of("control"):
        _taskset(proc.pid, cores.load)
    _taskset(os.getpid(), cores.load)
    cmd = ["taskset", "-c", cores.load, sys.executable, "-m", "galileo", "worker",
           "--name", worker, "--processes", "1"]
    proc = tb.start_process("control", f"load-{worker}", cmd)
    try:
        deadline = time.monotonic() + WORKER_WAIT_S
        while not any(w.name == worker for w in g.workers()):
            if time.monotonic() > deadline:
                raise NoWorkersError(f"the load worker {worker!r} did not register within "
                                     f"{WORKER_WAIT_S:.0f} s (log: {proc.log})")
            time.sleep(0.1)  # registration is a key write; nothing to wait on
        yield worker
    finally:
        tb.stop_process(proc)
