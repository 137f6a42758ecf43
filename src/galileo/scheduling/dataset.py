"""One object bundling what an experiment needs: tables, simulators, rules and batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galileo.errors import ConfigError
from galileo.scheduling.compositions import N_APPS, IntArray
from galileo.scheduling.data import (
    FULL_TABLE,
    RULES_CSV,
    TRAIN_TABLE,
    InterferenceTable,
    Rule,
    derive_rules,
    load_batches,
    load_rules,
    load_table,
    synthetic_batches,
)
from galileo.scheduling.sim import RFSim, Simulator, TableSim
from galileo.scheduling.synthetic import synthetic_tables


@dataclass
class Dataset:
    """Complete table, 20 % training table, placement rules; simulators built lazily."""

    table: InterferenceTable
    train: InterferenceTable
    rules: list[Rule]
    data_dir: Path | None = None
    cache_dir: Path | None = None
    seed: int = 0
    _sims: dict[str, Simulator] = field(default_factory=dict, repr=False)

    def sim(self, kind: str) -> Simulator:
        """The ``table`` or ``rf`` simulator (built once)."""
        if kind not in self._sims:
            if kind == "table":
                self._sims[kind] = TableSim(self.table)
            elif kind == "rf":
                self._sims[kind] = RFSim(self.train, self.cache_dir)
            else:
                raise ConfigError(f"unknown simulator {kind!r}; choose table, rf or a .npz path")
        return self._sims[kind]

    @property
    def apps(self) -> list[int]:
        """The app columns the complete table measures (all 7 for Metis; a profile's subset)."""
        return [int(a) for a in np.flatnonzero((self.table.alloc > 0).any(0))]

    @property
    def capacity(self) -> int:
        """Most containers per node the complete table measures (8 for Metis)."""
        return int(self.table.alloc.sum(1).max())

    def batches(self, size: int) -> IntArray:
        """Batches of ``size`` containers: the Metis file when present and valid; for a table
        covering fewer apps (a profile), ``multinomial`` batches over the apps it measures."""
        apps = self.apps
        if len(apps) < N_APPS:
            return synthetic_batches(size, 100, self.seed + size, apps)
        if self.data_dir is None:
            return synthetic_batches(size, 100, self.seed + size)
        return load_batches(self.data_dir, size)

    def simulator(self, spec: str) -> Simulator:
        """``table``, ``rf``, or the path of another measured table (e.g. from ``galileo
        profile``) to use as an exact lookup simulator."""
        if spec in ("table", "rf"):
            return self.sim(spec)
        if spec not in self._sims:
            self._sims[spec] = TableSim(load_table(Path(spec)), name=Path(spec).stem)
        return self._sims[spec]


def load_dataset(data_dir: Path, table: Path | None = None,
                 cache_dir: Path | None = None) -> Dataset:
    """The Metis data in ``data_dir``; ``table`` replaces the complete table (e.g. a profile:
    then it is also the RF's training set, its rules come from the ``interference_applist.csv``
    beside it or are derived, and ``data_dir`` is needed only for batch files)."""
    if table is not None:
        full = load_table(table)
        rules_path = table.parent / RULES_CSV
        rules = load_rules(rules_path) if rules_path.is_file() else derive_rules(full)
        return Dataset(full, full, rules, data_dir if data_dir.is_dir() else None, cache_dir)
    if not data_dir.is_dir():
        raise ConfigError(f"scheduling data directory {data_dir} does not exist; set "
                          "galileo_sched_data_dir, pass --data-dir, or use --synthetic")
    full = load_table(data_dir / FULL_TABLE)
    train_path = data_dir / TRAIN_TABLE
    train = load_table(train_path) if train_path.is_file() else full
    rules_path = data_dir / RULES_CSV
    rules = load_rules(rules_path) if rules_path.is_file() else derive_rules(full)
    return Dataset(full, train, rules, data_dir, cache_dir)


def synthetic_dataset(seed: int = 0, cache_dir: Path | None = None) -> Dataset:
    """A complete synthetic dataset (see :mod:`galileo.scheduling.synthetic`)."""
    full, train = synthetic_tables(seed)
    return Dataset(full, train, derive_rules(full), None, cache_dir, seed)
