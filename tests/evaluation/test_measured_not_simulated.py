"""The validation measures, it does not look the answer up: one host gets a fifth of the CPU
quota the table was made for; what runs there must slow down while the prediction does not.
If "measured" came from the simulator, both hosts would show the table's 1.0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from evalhelpers import cli, read_csv, up, write_table

from galileo.testbed import Testbed

P = "gevq"
CHECKSUM = 2  # Metis column


@pytest.fixture(scope="module")
def tb(data_dir: Path) -> Iterator[Testbed]:
    yield from up(data_dir, P, 2, 0.5, {f"{P}2": 0.1})


@pytest.mark.timeout(300)
def test_a_host_with_less_cpu_than_the_profile_assumed_measures_lower(
        tb: Testbed, data_dir: Path) -> None:
    # the profile the lab believes: checksum alone 1.0, two together 0.5 each
    table = write_table(data_dir / "t" / "profile.npz",
                        [({CHECKSUM: 1}, {CHECKSUM: 1.0}), ({CHECKSUM: 2}, {CHECKSUM: 0.5})])
    out = data_dir / "val"
    done = cli(data_dir, "sched", "validate", "--table", str(table), "--prefix", P,
               "--schedulers", "round-robin", "--batch", "checksum=2", "--repeats", "2",
               "--duration", "2", "--warmup", "0.5", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["host"]: r for r in read_csv(out / "instances.csv")}
    full, starved = rows[f"{P}1"], rows[f"{P}2"]  # one instance per host
    assert float(full["predicted"]) == float(starved["predicted"]) == 1.0, done.stdout
    # a fifth of the quota: about a fifth of the throughput (other load on the hosts' core
    # slows the full host too, so the bounds are loose; the simulator would say 1.0 for both)
    assert float(starved["measured_mean"]) < 0.6 * float(starved["predicted"]), done.stdout
    assert float(starved["measured_mean"]) < 0.6 * float(full["measured_mean"]), done.stdout
    assert "note:" not in done.stdout  # 0.6 CPU of quota on one core: hosts do not compete
