"""``galileo profile``: measure co-location interference and write a Metis-format dataset.

For every planned composition, the containers (service processes, pinned and limited) start on
the node CPUs, each gets a route ``prof-<app>-<i>`` and one Galileo client group that keeps
``concurrency`` clients sending back to back (closed loop, so each container runs saturated
and no request queues up on the client side). After a warm-up, the per-second group stats of
``duration_s`` whole seconds give throughput and p50/p99. The whole run is one experiment: the
recorder stores its traces, events and the telemetry of every container (``proc_*/<app>-<i>``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from galileo.control import Galileo
from galileo.errors import GalileoError, NoWorkersError
from galileo.localenv import ProcessGroup
from galileo.profiling.apps import ProfileApp
from galileo.profiling.containers import Container, Limits, cgroup_parent
from galileo.profiling.dataset import Row, write
from galileo.profiling.measure import Measurement, measure_group
from galileo.profiling.plan import plan
from galileo.settings import Settings

if TYPE_CHECKING:
    from galileo.telemetry import Agent

log = logging.getLogger(__name__)

WORKER_WAIT_S: Final = 60.0
GIB: Final = 1 << 30
FIRST_WARMUP_S: Final = 2.0  # added to the first run's warm-up
BURST_REQUESTS: Final = 1 << 30  # "until the group is closed"


@dataclass
class ProfileConfig:
    apps: list[ProfileApp]
    out_dir: Path
    max_per_node: int = 2
    duration_s: int = 3
    warmup_s: float = 1.0
    fraction: float = 1.0
    seed: int = 0
    node_cpus: tuple[int, ...] = (0,)
    load_cpus: tuple[int, ...] | None = None
    cores_per_container: float = 1.0
    memory_bytes: int = 8 * GIB
    concurrency: int = 4
    name: str = "profile"
    local_worker: bool = True


@dataclass
class ProfileResult:
    exp_id: str
    npz: Path
    rules: Path
    rows: list[Row]
    limits: str
    solo_rps: dict[str, float] = field(default_factory=dict)


def _worker_ready(g: Galileo, name: str) -> None:
    deadline = time.monotonic() + WORKER_WAIT_S
    while not any(w.name == name for w in g.workers()):
        if time.monotonic() > deadline:
            raise NoWorkersError(f"the profiling worker {name!r} did not register within "
                                 f"{WORKER_WAIT_S:.0f} s (see its log in the data directory)")
        time.sleep(0.1)  # registration is a key write; there is no event to wait on


def _cpus_for(i: int, cfg: ProfileConfig) -> tuple[int, ...]:
    per = max(1, round(cfg.cores_per_container))
    cpus = cfg.node_cpus
    return tuple(cpus[(i * per + k) % len(cpus)] for k in range(min(per, len(cpus))))


def _mean(ms: Sequence[Measurement]) -> Measurement:
    n = len(ms)
    return Measurement(rps=sum(m.rps for m in ms) / n, p50_s=sum(m.p50_s for m in ms) / n,
                       p99_s=sum(m.p99_s for m in ms) / n, done=sum(m.done for m in ms),
                       errors=sum(m.errors for m in ms))


class Profiler:
    """Runs one profile; :meth:`run` returns the :class:`ProfileResult`."""

    def __init__(self, settings: Settings, cfg: ProfileConfig) -> None:
        self.settings = settings
        self.cfg = cfg
        self.limits_method = "affinity+rlimit"
        self._parent = cgroup_parent()
        self._worker = f"{settings.worker_name}-profile"

    def run(self, on_done: Callable[[int, int], None] | None = None) -> ProfileResult:
        cfg = self.cfg
        comps = plan(len(cfg.apps), cfg.max_per_node, cfg.fraction, cfg.seed)
        from galileo.telemetry import Agent, AgentOptions

        with ProcessGroup(self.settings) as procs, Galileo(self.settings) as g:
            if cfg.local_worker:
                procs.start("profile-worker", ["worker", "--name", self._worker,
                                               "--processes", "1"], cpus=cfg.load_cpus)
                procs.start("profile-recorder", ["recorder"], cpus=cfg.load_cpus)
                _worker_ready(g, self._worker)
            agent = Agent(self.settings, f"{self.settings.worker_name}-profile",
                          AgentOptions(instruments=["cpu", "ram", "psi", "proc"],
                                       publish_topics=False)).start()
            exp_id = g.experiment.start(name=f"{cfg.name}: {' '.join(a.name for a in cfg.apps)}")
            rows: list[Row] = []
            try:
                for done, comp in enumerate(comps, 1):
                    extra = FIRST_WARMUP_S if done == 1 else 0.0  # cold worker and caches
                    rows.append(self._composition(g, agent, comp, extra))
                    if on_done is not None:
                        on_done(done, len(comps))
            finally:
                g.experiment.stop()
                agent.close()
            npz, rules = write(cfg.out_dir, cfg.name, cfg.apps, rows)
        self._drain()
        solo = {cfg.apps[r.counts.index(1)].name: r.results[r.counts.index(1)].rps
                for r in rows if sum(r.counts) == 1}
        return ProfileResult(exp_id, npz, rules, rows, self.limits_method, solo)

    def _drain(self) -> None:
        """Record what the recorder process had not taken yet (burst mode)."""
        from galileo.recorder import Recorder

        with contextlib.suppress(GalileoError), Recorder(self.settings) as rec:
            rec.drain()

    def _composition(self, g: Galileo, agent: Agent, comp: tuple[int, ...],
                     extra_warmup_s: float = 0.0) -> Row:
        cfg = self.cfg
        containers: list[tuple[int, Container]] = []
        groups = []
        try:
            for a, count in enumerate(comp):
                for j in range(count):
                    limits = Limits(_cpus_for(len(containers), cfg), cfg.cores_per_container,
                                    cfg.memory_bytes)
                    c = Container(f"{cfg.apps[a].name}-{j}", cfg.apps[a], limits, self._parent)
                    self.limits_method = c.method
                    containers.append((a, c))
            for a, c in containers:
                route = f"prof-{c.name}"
                g.rtbl.set(route, c.host)
                agent.watch_process(c.name, c.pid)
                app = cfg.apps[a]
                grp = g.spawn(route, cfg.concurrency, request={
                    "generator": app.generator, "generator_args": app.generator_args})
                grp.request(BURST_REQUESTS)  # closed loop: each client sends back to back
                groups.append((a, grp))
            time.sleep(cfg.warmup_s + extra_warmup_s)  # the window starts after it
            start_s = int(time.time()) + 1
            end_s = start_s + cfg.duration_s
            time.sleep(max(0.0, end_s - time.time()))
            measured: dict[int, list[Measurement]] = {}
            for a, grp in groups:
                m = measure_group(g.redis, g.keys, grp.gid, start_s, end_s)
                measured.setdefault(a, []).append(m)
            return Row(comp, {a: _mean(ms) for a, ms in measured.items()})
        finally:
            for _, grp in groups:
                with contextlib.suppress(GalileoError):
                    grp.close()
            for _, c in containers:
                with contextlib.suppress(GalileoError):
                    g.rtbl.remove(f"prof-{c.name}")
                agent.processes.unwatch(c.name)
                c.stop()
