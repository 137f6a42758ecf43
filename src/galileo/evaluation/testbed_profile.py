"""``galileo profile --testbed``: the interference profile measured on a testbed host.

Every composition of the plan runs on the testbed's first host (inside its cgroup: its CPU
quota is what the instances share), each instance a pinned service driven open loop at its
app's solo saturation rate -- the same measurement ``galileo sched validate`` makes, so the
table it writes predicts exactly what the validation measures. Written in the Metis format
(``.npz`` + rules) by :func:`galileo.profiling.dataset.write`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from galileo.control import Galileo
from galileo.evaluation.runs import Drive, Instance, Solo, deployed, measure, solos
from galileo.profiling.apps import ProfileApp
from galileo.profiling.dataset import Row, write
from galileo.profiling.measure import Measurement
from galileo.profiling.plan import is_solo, plan


@dataclass
class HostProfile:
    exp_id: str
    npz: Path
    rules: Path
    rows: list[Row]
    solos: dict[str, Solo]


def _mean(ms: Sequence[Measurement]) -> Measurement:
    n = len(ms)
    return Measurement(rps=sum(m.rps for m in ms) / n, p50_s=sum(m.p50_s for m in ms) / n,
                       p99_s=sum(m.p99_s for m in ms) / n, done=sum(m.done for m in ms),
                       errors=sum(m.errors for m in ms), sent=sum(m.sent for m in ms))


def profile_on_testbed(g: Galileo, worker: str, apps: Sequence[ProfileApp], host: str,
                       out_dir: Path, name: str, drive: Drive, max_per_node: int = 2,
                       fraction: float = 1.0, seed: int = 0, rate: float | None = None,
                       note: Callable[[str], None] = lambda _m: None,
                       step: Callable[[int, int], None] = lambda _d, _t: None) -> HostProfile:
    """Measure the planned compositions of ``apps`` on ``host``; write ``<out_dir>/<name>.npz``."""
    comps = plan(len(apps), max_per_node, fraction, seed)
    exp_id = g.experiment.start(name=f"{name}: {' '.join(a.name for a in apps)} on {host}")
    try:
        alone = solos(g, worker, apps, host, drive, rate, note)
        rates = {a: s.rate for a, s in alone.items()}
        rows: list[Row] = []
        for done, comp in enumerate(comps, 1):
            if is_solo(comp):
                a = comp.index(1)
                s = alone[apps[a].name]
                rows.append(Row(comp, {a: Measurement(s.achieved, s.p50_s, s.p99_s, 0, 0, s.sent)}))
            else:
                owners = [a for a, count in enumerate(comp) for _ in range(count)]
                insts = [Instance(apps[a], host) for a in owners]
                with deployed(g, insts, f"prof-{done}", note) as services:
                    note(f"composition {comp}")
                    ms = measure(g, worker, services, insts, drive, rates)
                rows.append(Row(comp, {a: _mean([m for o, m in zip(owners, ms, strict=True)
                                                 if o == a]) for a in set(owners)}))
            step(done, len(comps))
    finally:
        g.experiment.stop()
    npz, rules = write(out_dir, name, apps, rows)
    return HostProfile(exp_id, npz, rules, rows, alone)
