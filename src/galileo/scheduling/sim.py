"""Simulators: the per-container throughput of every node composition.

Both simulators expose the same thing, a per-composition table (``rps``: 6435 × 7 and the node
throughput ``node_tput = sum count * rps``), so a whole cluster is evaluated with one vectorised
lookup. :class:`TableSim` is the exact measured table (a composition it lacks is an error);
:class:`RFSim` is the Metis simulator: a multi-output random forest trained on the 20 % data set,
evaluated once on every composition (the forest is deterministic, so this is exact and fast).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from galileo.errors import ValidationError
from galileo.scheduling.compositions import (
    FloatArray,
    IntArray,
    all_compositions,
    index_of,
)
from galileo.scheduling.data import InterferenceTable

RF_TREES = 100
RF_MAX_DEPTH = 20
RF_SEED = 0
SPLIT_SEED = 42
SPLIT_TEST = 0.1


class Simulator:
    """Per-composition throughput table; ``node_tput`` is -inf where the composition is unknown.

    ``measured`` marks the compositions the simulator's values come from measurements of (all
    known ones for a table; the training compositions for a model), so a scheduler may trust
    those more than the model's extrapolations."""

    name = "sim"

    def __init__(self, rps: FloatArray, known: np.ndarray,
                 measured: np.ndarray | None = None) -> None:
        comps = all_compositions()
        self.rps = np.where(comps > 0, rps, 0.0)
        self.known = known.copy()
        self.known[0] = True  # the empty node: throughput 0
        self.measured = self.known.copy() if measured is None else measured & self.known
        tput = (comps * self.rps).sum(1)
        self.node_tput = np.where(self.known, tput, -np.inf)

    def _indices(self, counts: IntArray) -> np.ndarray:
        idx = index_of(counts)
        bad = (idx < 0) | ~self.known[np.maximum(idx, 0)]
        if bad.any():
            where = np.argwhere(bad)[0]
            comp = np.asarray(counts)[tuple(where)].tolist()
            raise ValidationError(f"{self.name}: node composition {comp} is not in its table")
        return idx

    def container_rps(self, counts: IntArray) -> FloatArray:
        """Per-container rps of each node (… × 7)."""
        return np.asarray(self.rps[self._indices(counts)], dtype=np.float64)

    def node_throughput(self, counts: IntArray) -> FloatArray:
        """Normalised node throughput ``sum count * rps`` of each node."""
        return np.asarray(self.node_tput[self._indices(counts)], dtype=np.float64)

    def throughput(self, placement: IntArray) -> float:
        """Average per-container normalised throughput of a placement (nodes × 7)."""
        total = int(np.asarray(placement).sum())
        return float(self.node_throughput(placement).sum() / total) if total else 0.0


class TableSim(Simulator):
    """Exact lookup in a measured table (duplicate rows averaged)."""

    name = "table"

    def __init__(self, table: InterferenceTable, name: str | None = None) -> None:
        rps, seen = table.dense()
        super().__init__(rps, seen)
        if name is not None:
            self.name = name


class RFSim(Simulator):
    """The Metis random-forest simulator trained on ``train`` (90 % split, as upstream)."""

    name = "rf"

    def __init__(self, train: InterferenceTable, cache_dir: Path | None = None) -> None:
        cached = _cache_path(train, cache_dir)
        if cached is not None and cached.is_file():
            rps = np.load(cached)
        else:
            rps = fit_rf_table(train)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.save(cached, rps)
        super().__init__(rps, np.ones(len(rps), dtype=bool), train.dense()[1])


def fit_rf_table(train: InterferenceTable) -> FloatArray:
    """Fit the Metis RF on ``train`` and predict every composition (6435 × 7)."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import train_test_split
    from sklearn.multioutput import MultiOutputRegressor

    x_train, _, y_train, _ = train_test_split(
        train.alloc.astype(np.float64), train.rps, test_size=SPLIT_TEST, random_state=SPLIT_SEED)
    forest = MultiOutputRegressor(RandomForestRegressor(
        n_estimators=RF_TREES, max_depth=RF_MAX_DEPTH, random_state=RF_SEED))
    forest.fit(x_train, y_train)
    comps = all_compositions().astype(np.float64)
    pred = np.asarray(forest.predict(comps), dtype=np.float64)
    return pred * (comps > 0)


def _cache_path(train: InterferenceTable, cache_dir: Path | None) -> Path | None:
    if cache_dir is None:
        return None
    digest = hashlib.sha256(train.alloc.tobytes() + train.rps.tobytes()).hexdigest()[:16]
    return cache_dir / f"rf-{RF_TREES}-{RF_MAX_DEPTH}-{digest}.npy"


def fidelity(reference: Simulator, other: Simulator) -> dict[str, float]:
    """Per-container MAE and node-throughput relative error of ``other`` against ``reference``
    over every composition both know (non-empty)."""
    comps = all_compositions()
    both = reference.known & other.known
    both[0] = False
    mask = comps[both] > 0
    diff = np.abs(other.rps[both] - reference.rps[both])[mask]
    ref_t, oth_t = reference.node_tput[both], other.node_tput[both]
    rel = np.abs(oth_t - ref_t) / ref_t
    return {"compositions": float(both.sum()), "mae_per_container": float(diff.mean()),
            "max_abs_error": float(diff.max()), "node_tput_rel_error": float(rel.mean()),
            "node_tput_rel_error_p95": float(np.quantile(rel, 0.95))}
