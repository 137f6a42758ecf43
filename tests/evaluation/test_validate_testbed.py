"""``galileo profile --testbed`` and ``galileo sched validate`` end to end on a real 2-host
testbed (0.5 CPU per host, pinned to one core): 2 services, 2 schedulers."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from evalhelpers import cli, read_csv, up

from galileo.scheduling.compositions import N_APPS
from galileo.services.lab_placement import lab_model
from galileo.storage.expdb import ExpDB
from galileo.testbed import Testbed
from waiting import until

P = "gev"
FAST = ["--duration", "1", "--warmup", "0.5"]


@pytest.fixture(scope="module")
def tb(data_dir: Path) -> Iterator[Testbed]:
    yield from up(data_dir, P, 2, 0.5)


@pytest.fixture(scope="module")
def profiled(tb: Testbed, data_dir: Path) -> Path:
    done = cli(data_dir, "profile", "checksum", "ycsb-a", "--testbed", P,
               "--out", str(data_dir / "prof"), "--duration", "2", "--warmup", "0.5")
    assert done.returncode == 0, done.stdout + done.stderr
    return data_dir / "prof" / "profile.npz"


@pytest.mark.timeout(300)
def test_profile_on_the_testbed_measures_sharing_of_the_host_quota(profiled: Path,
                                                                   tb: Testbed) -> None:
    model = lab_model(str(profiled))  # the lab reads it: complete, so looked up exactly
    assert model.apps == [2, 3] and model.capacity == 2 and type(model.sim).__name__ == "TableSim"
    two = np.zeros(N_APPS, dtype=np.int64)
    two[2] = 2  # two checksum instances share one 0.5-CPU host: each gets about half (0.49
    # on a quiet core; other load on the hosts' core makes the solo slower and this higher)
    assert 0.25 < float(model.sim.container_rps(two[None, :])[0, 2]) < 0.95
    one = np.zeros(N_APPS, dtype=np.int64)
    one[2] = 1
    assert float(model.sim.container_rps(one[None, :])[0, 2]) == 1.0
    core = str((os.cpu_count() or 1) - 1)  # the hosts were pinned to the last core
    cg = tb.cgroups()
    assert all(cg.limits(h.cgroup).cpuset == core for h in tb.state.hosts)
    assert not [p for p in tb.state.processes if p.role.startswith("load-")]  # worker gone


@pytest.mark.timeout(300)
def test_validate_two_schedulers_end_to_end(profiled: Path, tb: Testbed,
                                            data_dir: Path) -> None:
    out = data_dir / "val"
    done = cli(data_dir, "sched", "validate", "--table", str(profiled), "--prefix", P,
               "--schedulers", "greedy,round-robin", "--batch", "checksum=2,ycsb-a=1",
               "--repeats", "2", "--out", str(out), *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "generators:" in done.stdout and "Kendall tau" in done.stdout
    scheds, rows = read_csv(out / "schedulers.csv"), read_csv(out / "instances.csv")
    assert [s["scheduler"] for s in scheds] == ["greedy", "round-robin"]
    assert (out / "validate.png").stat().st_size > 10_000
    model = lab_model(str(profiled))
    hosts = tb.hosts
    for s in scheds:
        mine = [r for r in rows if r["scheduler"] == s["scheduler"]]
        assert sorted(r["app"] for r in mine) == ["checksum", "checksum", "ycsb-a"]
        # the prediction is the simulator's for the placement that ran
        placement = np.zeros((len(hosts), N_APPS), dtype=np.int64)
        for r in mine:
            placement[hosts.index(r["host"]), 2 if r["app"] == "checksum" else 3] += 1
        rps = model.sim.container_rps(placement)
        for r in mine:
            col = 2 if r["app"] == "checksum" else 3
            assert float(r["predicted"]) == pytest.approx(float(rps[hosts.index(r["host"]), col]),
                                                          abs=1e-4)
            measured = [float(r["measured_1"]), float(r["measured_2"])]
            assert all(0.05 < m < 1.6 for m in measured), r
        assert float(s["predicted_mean"]) == pytest.approx(model.sim.throughput(placement),
                                                           abs=1e-4)
        mean = float(s["measured_mean"])
        assert float(s["ci95_low"]) <= mean <= float(s["ci95_high"]) and s["repeats"] == "2"
        assert mean == pytest.approx(sum(float(r["measured_mean"]) for r in mine) / len(mine),
                                     abs=2e-3)
    with ExpDB(f"sqlite:///{tb.expdb_path}") as db:  # one experiment per scheduler, with traces
        for s in scheds:
            exp = db.get_experiment(s["experiment"])
            assert exp is not None and exp.name == f"sched validate: {s['scheduler']}"
            until(lambda s=s: db.count_traces(s["experiment"]) > 0, 30,
                  "the recorder storing the scheduler's traces")
    assert not math.isnan(float(scheds[0]["mae"]))
    report = data_dir / "compare.html"  # the two runs compare like any two experiments
    done = cli(data_dir, "testbed", "run", "--prefix", P, "--", "galileo", "report",
               scheds[0]["experiment"], scheds[1]["experiment"], "-o", str(report))
    assert done.returncode == 0 and report.stat().st_size > 10_000, done.stdout + done.stderr
    left = Testbed.attach(data_dir, P).state.processes
    assert not [p for p in left if p.role.startswith("load-")]  # the load worker is gone
