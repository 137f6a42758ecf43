"""``galileo profile``: planning, rule derivation, and a tiny real run whose dataset loads with
the scheduling lab's Metis loader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import redis

from galileo import analysis
from galileo.errors import ValidationError
from galileo.localenv import ProcessGroup
from galileo.profiling import ProfileConfig, Profiler, compositions, parse_apps, plan
from galileo.profiling.dataset import Row, derive_rules, to_arrays
from galileo.profiling.measure import Measurement
from galileo.protocol import Keys
from galileo.scheduling.data import FULL_TABLE, RULES_CSV, load_rules, load_table
from galileo.settings import Settings

METIS = Path(__file__).resolve().parents[3] / "shared" / "metis-data"


def test_plan_keeps_solos_and_samples_the_rest() -> None:
    every = compositions(3, 2)
    assert len(every) == 3 + 6  # 3 solos + C(3+1, 2) pairs
    assert plan(3, 2)[:3] == [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    sampled = plan(3, 2, fraction=0.5, seed=1)
    assert sampled[:3] == plan(3, 2)[:3] and len(sampled) == 3 + 3
    assert sampled == plan(3, 2, fraction=0.5, seed=1)
    with pytest.raises(ValidationError):
        plan(3, 2, fraction=0)
    with pytest.raises(ValidationError, match="unknown application 'redis'"):
        parse_apps(["kv", "redis"])
    assert [a.name for a in parse_apps(["superres", "kv"])] == ["kv", "superres"]


def m(rps: float) -> Measurement:
    return Measurement(rps=rps, p50_s=0.001, p99_s=0.002, done=int(rps), errors=0)


def test_rules_follow_the_metis_derivation() -> None:
    apps = parse_apps(["kv", "checksum"])  # Metis apps 1 and 3
    rows = [Row((1, 0), {0: m(100)}), Row((0, 1), {1: m(50)}),
            Row((2, 0), {0: m(95)}), Row((3, 0), {0: m(80)}),  # kv next to 2 kv: -20 %
            Row((1, 1), {0: m(120), 1: m(40)}), Row((0, 2), {1: m(50)})]
    arrays = to_arrays(apps, rows)
    assert arrays["alloc"].shape == (6, 9) and arrays["alloc"][4, 0] == 1
    assert arrays["alloc"][4, 2] == 1 and math.isnan(arrays["rps"][0, 2])
    assert arrays["rps"][3, 0] == pytest.approx(0.8)
    rules = {(s, c): (kind, t) for s, c, kind, t, _ in derive_rules(apps, rows, arrays)}
    assert rules[1, 1] == (0, 2)  # at most 2 kv (itself included) on a node
    assert rules[1, 3] == (1, 1)  # kv gains > 10 % next to checksum: affinity
    assert rules[3, 1] == (0, 0)  # checksum drops to 80 % next to one kv: none allowed
    assert (3, 3) not in rules  # checksum × 2 unchanged


@pytest.mark.skipif(not (METIS / FULL_TABLE).is_file(), reason=f"no Metis data at {METIS}")
def test_the_same_loader_reads_the_metis_files() -> None:
    assert load_table(METIS / FULL_TABLE).alloc.shape == (6434, 7)
    assert len(load_rules(METIS / RULES_CSV)) == 39


@pytest.mark.slow
def test_tiny_profile_run_writes_a_metis_dataset(settings: Settings, tmp_path: Path,
                                                 redis_client: redis.Redis) -> None:
    apps = parse_apps(["kv", "checksum"])
    cfg = ProfileConfig(apps=apps, out_dir=tmp_path / "out", max_per_node=2, duration_s=1,
                        warmup_s=0.3, node_cpus=(1,) if (Path("/sys/devices/system/cpu/cpu1")
                                                         .exists()) else (0,),
                        load_cpus=(0,), concurrency=2, name="tiny")
    progress: list[tuple[int, int]] = []
    try:
        result = Profiler(settings, cfg).run(lambda done, total: progress.append((done, total)))
    finally:
        redis_client.delete(Keys.telemd_info(f"{settings.worker_name}-profile"))
    assert progress[-1] == (5, 5)
    with np.load(result.npz, allow_pickle=True) as npz:
        assert sorted(npz.files) == ["alloc", "rps", "rt_50", "rt_99"]
        alloc, rps, rt99 = npz["alloc"], npz["rps"], npz["rt_99"]
    assert alloc.shape == (5, 9) and rps.dtype == np.float64 and rt99.dtype == object
    assert sorted(map(tuple, alloc[:, [0, 2]].tolist())) == [
        (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]
    assert (np.isnan(rps) == (alloc == 0)).all()  # NaN exactly where the app is absent
    assert rps[0, 0] == 1.0 and rps[1, 2] == 1.0  # solo rows normalise to 1
    assert all(r > 0 for r in rt99[alloc > 0])
    table = load_table(result.npz)  # the scheduling lab's loader for the Metis tables
    assert table.alloc.shape == (5, 7)
    load_rules(result.rules)
    assert result.solo_rps["kv"] > 10 and result.solo_rps["checksum"] > 1
    # the run is an experiment: traces and container telemetry are in the database
    data = analysis.load(result.exp_id, settings=settings)
    assert {"prof-kv-0", "prof-kv-1", "prof-checksum-0"} <= set(data.traces["service"].unique())
    assert "proc_cpu" in set(data.telemetry["metric"].unique())
    cpu = analysis.cpu_per_request(data, {"prof-checksum-0": "checksum-0"})
    assert cpu.loc["prof-checksum-0", "cpu_ms_per_request"] > 0.5  # SHA-256 of 4 MiB


def test_profile_command_rejects_unknown_apps(settings: Settings) -> None:
    with ProcessGroup(settings) as procs:
        assert procs.start("profile", ["profile", "kv", "nope"]).wait(60) == 2
    assert "error: unknown application 'nope'" in (procs.log_dir / "profile.log").read_text()
