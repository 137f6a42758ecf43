from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from galileo.errors import ConfigError, ValidationError
from galileo.scheduling.compositions import all_compositions, index_of
from galileo.scheduling.data import (
    InterferenceTable,
    derive_rules,
    load_batches,
    load_table,
    parse_rows,
)
from galileo.scheduling.dataset import Dataset, load_dataset
from galileo.scheduling.sim import TableSim, fidelity


def test_compositions_are_all_6435_and_indexable() -> None:
    comps = all_compositions()
    assert comps.shape == (6435, 7)
    assert comps.sum(1).max() == 8
    assert (index_of(comps) == np.arange(6435)).all()
    assert index_of([[9, 0, 0, 0, 0, 0, 0], [0, -1, 0, 0, 0, 0, 0]]).tolist() == [-1, -1]


def test_tablesim_equals_the_table(synthetic: Dataset) -> None:
    sim = synthetic.sim("table")
    t = synthetic.table
    np.testing.assert_allclose(sim.container_rps(t.alloc), t.rps)
    np.testing.assert_allclose(sim.node_throughput(t.alloc), (t.alloc * t.rps).sum(1))


def test_tablesim_rejects_compositions_outside_its_table(synthetic: Dataset) -> None:
    part = InterferenceTable(synthetic.table.alloc[:100], synthetic.table.rps[:100])
    sim = TableSim(part)
    missing = synthetic.table.alloc[200:201]
    with pytest.raises(ValidationError, match="not in its table"):
        sim.node_throughput(missing)


def test_npz_roundtrip_profile_format(tmp_path: Path, synthetic: Dataset) -> None:
    t = synthetic.table
    rps = np.where(t.alloc > 0, t.rps, np.nan)
    path = tmp_path / "profile.npz"
    np.savez(path, alloc=t.alloc, rps=rps, rt_50=np.zeros_like(rps, dtype=object),
             rt_99=np.zeros_like(rps, dtype=object))
    loaded = load_table(path)
    np.testing.assert_allclose(TableSim(loaded).rps, synthetic.sim("table").rps)
    with pytest.raises(ConfigError, match="does not exist"):
        load_table(tmp_path / "nope.npz")


def test_rf_fidelity_on_synthetic_data(synthetic: Dataset) -> None:
    stats = fidelity(synthetic.sim("table"), synthetic.sim("rf"))
    assert 0 < stats["mae_per_container"] < 0.2
    assert 0 < stats["node_tput_rel_error"] < 0.2


def test_derived_rules_and_parse_rows(synthetic: Dataset) -> None:
    assert {r.kind for r in derive_rules(synthetic.table)} <= {"max", "min"}
    assert parse_rows("0-2,5") == [0, 1, 2, 5]
    with pytest.raises(ValidationError, match="5-2"):
        parse_rows("5-2")
    with pytest.raises(ValidationError):
        parse_rows("a")


def test_missing_data_dir_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_dataset(tmp_path / "absent")


def test_broken_3000_batches_are_regenerated(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "batch_set_3000.npz", batch_set=np.ones((30, 7), dtype=int))
    batches = load_batches(tmp_path, 3000)
    assert batches.shape == (100, 7) and (batches.sum(1) == 3000).all()
    np.testing.assert_array_equal(batches, load_batches(tmp_path, 3000))


def test_metis_table_sim_and_rules(metis: Dataset) -> None:
    sim = metis.sim("table")
    np.testing.assert_allclose(sim.container_rps(metis.table.alloc), metis.table.rps)
    assert len(metis.rules) == 39
    assert set(derive_rules(metis.table)) == set(metis.rules)
    assert (metis.batches(200).sum(1) == 200).all()


def test_shipped_data_is_package_data() -> None:
    """Every file of the shipped Metis data and sub-scheduler weights is in the wheel."""
    import fnmatch
    import tomllib

    from galileo.scheduling.data import METIS_DATA_DIR

    pkg = METIS_DATA_DIR.parents[1]
    pyproject = tomllib.loads((pkg.parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["galileo"]
    files = [p.relative_to(pkg).as_posix() for d in (METIS_DATA_DIR, pkg / "scheduling" / "weights")
             for p in d.rglob("*") if p.is_file()]
    assert len(files) >= 14
    missing = [f for f in files if not any(fnmatch.fnmatchcase(f, g) for g in globs)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
