"""A dataset written by ``galileo profile`` drives the scheduling lab end to end; a corrupt
table is one line and exit code 2."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import redis
from typer.testing import CliRunner

from galileo.profiling import ProfileConfig, Profiler, parse_apps
from galileo.protocol import Keys
from galileo.scheduling.dataset import load_dataset
from galileo.settings import Settings

GALILEO = str(Path(sys.executable).with_name("galileo"))


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "galileo_data_dir": str(tmp_path / "data")}


@pytest.mark.slow
def test_a_profiled_dataset_schedules_end_to_end(settings: Settings, tmp_path: Path,
                                                  redis_client: redis.Redis) -> None:
    from galileo.cli.main import app

    node = (1,) if Path("/sys/devices/system/cpu/cpu1").exists() else (0,)
    cfg = ProfileConfig(apps=parse_apps(["kv", "checksum"]), out_dir=tmp_path / "prof",
                        max_per_node=2, duration_s=1, warmup_s=0.3, node_cpus=node,
                        load_cpus=(0,), concurrency=2, name="tiny")
    try:
        result = Profiler(settings, cfg).run(lambda done, total: None)
    finally:
        redis_client.delete(Keys.telemd_info(f"{settings.worker_name}-profile"))
    ds = load_dataset(tmp_path / "no-metis-here", result.npz)
    assert ds.apps == [0, 2] and ds.capacity == 2  # kv = Metis column 0, checksum = 2
    batches = ds.batches(5)
    assert (batches[:, [1, 3, 4, 5, 6]] == 0).all() and (batches.sum(1) == 5).all()
    out = tmp_path / "cmp.csv"
    run = CliRunner().invoke(app, [
        "sched", "compare", "--table", str(result.npz), "--nodes", "3", "--batch", "5",
        "--rows", "0-3", "--plan-sim", "rf", "--score-sim", "table",
        "--schedulers", "round-robin,greedy,medea,ours", "--csv", str(out)], env=_env(tmp_path))
    assert run.exit_code == 0, run.output
    with out.open() as fh:
        summary = {r["scheduler"]: r for r in csv.DictReader(fh)}
    assert set(summary) == {"round-robin", "greedy", "medea", "ours"}
    table = ds.sim("table")
    for name, row in summary.items():  # scored on the measured profile: within its range
        tput = float(row["mean_tput"])
        assert 0 < tput <= float(np.nanmax(table.rps)) + 1e-9, (name, tput)
    assert float(summary["ours"]["plan_tput"]) >= float(summary["greedy"]["plan_tput"]) - 1e-9


@pytest.mark.parametrize("content", [b"not an npz at all\x00\x01", b"\x80\x04\x95pickle",
                                     b"PK\x03\x04truncated zip"])
def test_a_corrupt_table_is_one_line_and_exit_2(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    proc = subprocess.run([GALILEO, "sched", "compare", "--table", str(bad), "--schedulers",
                           "greedy", "--plan-sim", "table"], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(bad) in lines[0] and "not a valid .npz" in lines[0]


def test_a_table_without_alloc_and_rps_is_rejected(tmp_path: Path) -> None:
    from galileo.errors import ValidationError
    from galileo.scheduling.data import load_table

    path = tmp_path / "t.npz"
    np.savez(path, something=np.zeros(3))
    with pytest.raises(ValidationError, match=r"not a valid \.npz"):
        load_table(path)
    np.savez(path, alloc=np.ones((2, 3)), rps=np.ones((2, 3)))
    with pytest.raises(ValidationError, match=r"\(rows, ≥7\)"):
        load_table(path)
