"""Instances placed for real and measured: each instance is a service of its own pinned to one
testbed host (``hosts=<host>``, one replica, no CPU limit of its own: co-located instances
share their host's quota), driven by one client group on the load worker; throughput comes
from the worker's per-second stats over whole seconds after a warm-up."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from galileo.control import Galileo
from galileo.errors import GalileoError
from galileo.profiling.apps import ProfileApp
from galileo.profiling.measure import Measurement, measure_group

READY_TIMEOUT_S: Final = 120.0
BURST_REQUESTS: Final = 1 << 30  # closed loop: "until the group is closed"


@dataclass(frozen=True)
class Instance:
    """One instance to run: which app, on which testbed host."""

    app: ProfileApp
    host: str


@dataclass(frozen=True)
class Drive:
    """How instances are driven: seconds of warm-up and of measurement, the in-flight bound of
    an open-loop group and the clients of a closed-loop (saturating) one."""

    warmup_s: float = 1.0
    duration_s: int = 3
    max_inflight: int = 8  # twice the clients that saturate an app alone: short queues, so
    concurrency: int = 4  # the agent's health probes (0.5 s timeout) are not starved


def generator_behind(m: Measurement, rate: float, drive: Drive) -> bool:
    """The load worker sent less than 97 % of ``rate`` while the instance was not holding
    requests back (fewer than 3/4 of the in-flight bound outstanding on average): the
    measurement is then about the load side, not the instance."""
    return (m.sent < 0.97 * rate * drive.duration_s
            and m.inflight < 0.75 * drive.max_inflight)


@contextlib.contextmanager
def deployed(g: Galileo, instances: Sequence[Instance], tag: str,
             note: Callable[[str], None] = lambda _m: None) -> Iterator[list[str]]:
    """Declare one pinned service per instance (``<tag>-<i>``), wait until all are ready and
    routed, yield their names; removed afterwards, also on errors."""
    names = [f"{tag}-{i}" for i in range(len(instances))]
    declared: list[str] = []
    try:
        for name, inst in zip(names, instances, strict=True):
            g.services.run(name, app=inst.app.service, replicas=1, hosts=inst.host,
                           placement="spread")
            declared.append(name)
        for i, name in enumerate(names, 1):
            note(f"{tag}: waiting for instance {i}/{len(names)}")
            g.services.wait(name, READY_TIMEOUT_S)
        yield names
    finally:
        for name in declared:
            with contextlib.suppress(GalileoError):
                g.services.remove(name)


def measure(g: Galileo, worker: str, services: Sequence[str], instances: Sequence[Instance],
            drive: Drive, rates: Mapping[str, float] | None = None) -> list[Measurement]:
    """Drive every service at once -- at ``rates[app name]`` req/s (open loop), or with
    ``drive.concurrency`` clients sending back to back when ``rates`` is None (saturation) --
    and return each one's measurement over ``drive.duration_s`` whole seconds."""
    groups = []
    for svc in services:  # an instance restarted since the last window: wait for it
        g.services.wait(svc, READY_TIMEOUT_S)
    try:
        for svc, inst in zip(services, instances, strict=True):
            request = {"generator": inst.app.generator,
                       "generator_args": inst.app.generator_args}
            if rates is None:
                grp = g.spawn(svc, drive.concurrency, hosts=worker, request=request)
                grp.request(BURST_REQUESTS)
            else:
                grp = g.spawn(svc, 1, hosts=worker, request=request, rps=rates[inst.app.name],
                              max_inflight=drive.max_inflight)
            groups.append(grp)
        time.sleep(drive.warmup_s)
        start_s = int(time.time()) + 1
        end_s = start_s + drive.duration_s
        time.sleep(max(0.0, end_s - time.time()))
        return [measure_group(g.redis, g.keys, grp.gid, start_s, end_s) for grp in groups]
    finally:
        for grp in groups:
            with contextlib.suppress(GalileoError):
                grp.close()


@dataclass(frozen=True)
class Solo:
    """An app alone on a host: the rate it is driven at (its saturation throughput, or the
    given ``--rate``) and what it achieved there -- the normaliser of every other run."""

    app: str
    rate: float
    achieved: float
    sent: int
    window_s: int
    p50_s: float = float("nan")
    p99_s: float = float("nan")
    behind: bool = False  # see generator_behind

    @property
    def generator_kept_up(self) -> bool:
        """The load worker did not saturate (it sent the rate, or the instance held back)."""
        return not self.behind

    @property
    def served_ratio(self) -> float:
        """Achieved / offered at solo (1.0: the instance kept up with its rate)."""
        return self.achieved / self.rate if self.rate > 0 else float("nan")


def solos(g: Galileo, worker: str, apps: Sequence[ProfileApp], host: str, drive: Drive,
          rate: float | None = None,
          note: Callable[[str], None] = lambda _m: None) -> dict[str, Solo]:
    """Each app alone on ``host``: its saturation throughput (closed loop), unless ``rate``
    is given, then the throughput it achieves driven open loop at that rate."""
    out: dict[str, Solo] = {}
    for app in apps:
        inst = [Instance(app, host)]
        with deployed(g, inst, f"solo-{app.name}", note) as names:
            target = rate
            if target is None:
                note(f"solo {app.name}: saturation")
                target = measure(g, worker, names, inst, drive)[0].rps
            if not target > 0:
                raise GalileoError(f"app {app.name} on {host} served nothing alone (see the "
                                   "node agent's log); nothing to normalise by.")
            note(f"solo {app.name}: open loop at {target:.0f} req/s")
            m = measure(g, worker, names, inst, drive, {app.name: target})[0]
        out[app.name] = Solo(app.name, target, m.rps, m.sent, drive.duration_s, m.p50_s, m.p99_s,
                             generator_behind(m, target, drive))
    return out
