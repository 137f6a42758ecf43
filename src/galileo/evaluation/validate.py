"""``galileo sched validate``: the lab's placements run on the testbed, predicted vs measured.

For each scheduler the lab plans the same batch of instances onto the testbed's hosts (a lab
node per host, the interference table's capacity per node); every planned instance runs as a
pinned service (:mod:`galileo.evaluation.runs`), driven open loop at its app's solo saturation
rate; its achieved throughput divided by what the app achieves alone at that rate is the Metis
metric, measured. The simulator's per-instance value for the same placement is the prediction.
Each scheduler is one experiment (its traces, events and telemetry), repeated ``repeats``
times on the same deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from galileo.control import Galileo
from galileo.errors import ConfigError, ValidationError
from galileo.evaluation.runs import (
    Drive,
    Instance,
    Solo,
    deployed,
    generator_behind,
    measure,
    solos,
)
from galileo.evaluation.stats import MeanCI, kendall_tau, mae, mean_ci95
from galileo.profiling.apps import PROFILE_APPS, ProfileApp

if TYPE_CHECKING:
    import numpy as np

    from galileo.services.lab_placement import LabModel

Note = Callable[[str], None]
Step = Callable[[int, int], None]


@dataclass(frozen=True)
class ValidateConfig:
    table: str
    schedulers: list[str]
    batch: dict[str, int]  # profile app name -> instances
    hosts: list[str]
    repeats: int = 3
    drive: Drive = field(default_factory=Drive)
    rate: float | None = None
    seed: int = 0
    budget: float = 0.2


@dataclass
class InstanceResult:
    scheduler: str
    index: int
    app: str
    host: str
    predicted: float
    measured: list[float] = field(default_factory=list)  # one per repeat
    behind: int = 0  # repeats in which the load worker fell behind (runs.generator_behind)

    @property
    def measured_mean(self) -> float:
        return sum(self.measured) / len(self.measured) if self.measured else float("nan")


@dataclass
class SchedulerResult:
    name: str
    exp_id: str
    predicted: float
    measured: MeanCI
    instances: list[InstanceResult]


@dataclass
class Validation:
    solos: dict[str, Solo]
    schedulers: list[SchedulerResult]
    mae: float
    tau: float

    @property
    def predicted_best(self) -> SchedulerResult:
        return max(self.schedulers, key=lambda s: s.predicted)

    @property
    def measured_best(self) -> SchedulerResult:
        return max(self.schedulers, key=lambda s: s.measured.mean)


def parse_batch(text: str) -> dict[str, int]:
    """``kv=2,checksum=2`` -> instances per app (names as `galileo profile` takes them)."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, count = part.partition("=")
        if name not in PROFILE_APPS:
            raise ValidationError(f"--batch {text!r}: unknown app {name!r} (apps: "
                                  f"{', '.join(PROFILE_APPS)})")
        if not count.isdigit() or int(count) < 1:
            raise ValidationError(f"--batch {text!r}: {name} needs a count >= 1 like {name}=2")
        out[name] = out.get(name, 0) + int(count)
    if not out:
        raise ValidationError("--batch names no instances (e.g. kv=2,checksum=2)")
    return out


def check_batch(model: LabModel, batch: Mapping[str, int],
                hosts: Sequence[str] | None = None) -> None:
    """Every app in the table, and (given the hosts) the batch within hosts × capacity."""
    for name in batch:
        if PROFILE_APPS[name].column not in model.apps:
            raise ValidationError(f"app {name!r} is not in the interference table {model.path} "
                                  f"(its apps: {model.app_names()})")
    total = sum(batch.values())
    if hosts is not None and total > len(hosts) * model.capacity:
        raise ValidationError(f"--batch has {total} instances, more than {len(hosts)} hosts × "
                              f"the table's capacity of {model.capacity}")


def plan(model: LabModel, scheduler: str, batch: Mapping[str, int], n_hosts: int, seed: int,
         budget: float) -> np.ndarray:
    """The scheduler's placement (hosts × 7) of ``batch`` on ``n_hosts`` empty lab nodes."""
    import numpy as np

    from galileo.errors import GalileoError
    from galileo.scheduling.compositions import N_APPS
    from galileo.scheduling.schedulers import Cluster

    vec = np.zeros(N_APPS, dtype=np.int64)
    for name, count in batch.items():
        vec[PROFILE_APPS[name].column] += count
    cluster = Cluster(n_hosts, model.capacity)
    sched = model.scheduler(scheduler, seed, budget)
    try:
        if scheduler == "metis":
            placed = sched.place_onto(vec, cluster,  # type: ignore[attr-defined]
                                      np.zeros((n_hosts, N_APPS), dtype=np.int64))
        else:
            placed = sched.place(vec, cluster)
    except GalileoError as e:
        raise ConfigError(f"scheduler {scheduler!r} could not place the batch: {e}") from None
    return np.asarray(placed, dtype=np.int64)


def planned_instances(model: LabModel, scheduler: str, placement: np.ndarray,
                      hosts: Sequence[str], batch: Mapping[str, int]) -> list[InstanceResult]:
    """One result row per planned instance, with the simulator's prediction for it."""
    by_column = {PROFILE_APPS[n].column: n for n in batch}
    rps = model.sim.container_rps(placement)
    out: list[InstanceResult] = []
    for i, host in enumerate(hosts):
        for col in sorted(by_column):
            for _ in range(int(placement[i, col])):
                out.append(InstanceResult(scheduler, len(out), by_column[col], host,
                                          float(rps[i, col])))
    return out


def run(g: Galileo, worker: str, model: LabModel, cfg: ValidateConfig,
        note: Note = lambda _m: None, step: Step = lambda _d, _t: None) -> Validation:
    """Measure the solos, then every scheduler's placement ``cfg.repeats`` times."""
    apps: list[ProfileApp] = [PROFILE_APPS[n] for n in cfg.batch]
    plans = {s: plan(model, s, cfg.batch, len(cfg.hosts), cfg.seed, cfg.budget)
             for s in cfg.schedulers}
    total = len(apps) + len(cfg.schedulers) * cfg.repeats
    exp = g.experiment.start(name=f"sched validate: solo {' '.join(cfg.batch)}")
    try:
        alone = solos(g, worker, apps, cfg.hosts[0], cfg.drive, cfg.rate, note)
    finally:
        g.experiment.stop()
    step(len(apps), total)
    rates = {name: s.rate for name, s in alone.items()}
    results: list[SchedulerResult] = []
    for name, placement in plans.items():
        rows = planned_instances(model, name, placement, cfg.hosts, cfg.batch)
        insts = [Instance(PROFILE_APPS[r.app], r.host) for r in rows]
        exp = g.experiment.start(name=f"sched validate: {name}")
        try:
            with deployed(g, insts, f"v-{name}", note) as services:
                for rep in range(cfg.repeats):
                    note(f"{name}: repeat {rep + 1}/{cfg.repeats}")
                    for r, m in zip(rows, measure(g, worker, services, insts, cfg.drive, rates),
                                    strict=True):
                        r.measured.append(m.rps / alone[r.app].achieved)
                        r.behind += generator_behind(m, rates[r.app], cfg.drive)
                    step(len(apps) + len(results) * cfg.repeats + rep + 1, total)
        finally:
            g.experiment.stop()
        per_repeat = [sum(r.measured[k] for r in rows) / len(rows) for k in range(cfg.repeats)]
        results.append(SchedulerResult(name, exp, float(model.sim.throughput(placement)),
                                       mean_ci95(per_repeat), rows))
    every = [r for s in results for r in s.instances]
    return Validation(alone, results,
                      mae([r.predicted for r in every], [r.measured_mean for r in every]),
                      kendall_tau([s.predicted for s in results],
                                  [s.measured.mean for s in results]))
