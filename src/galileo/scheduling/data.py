"""Loading the interference data: measured tables, container batches and placement rules.

Table format (the Metis ``*-normed.npz`` files and what ``galileo profile`` writes): keys
``alloc`` (rows × ≥7 container counts), ``rps`` (normalised per-container throughput, NaN where
the app is absent), ``rt_50`` and ``rt_99`` (object arrays, hence ``allow_pickle``). Only the first
7 columns are used (app order: :data:`APPS`). Duplicate compositions are averaged.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galileo.errors import ConfigError, ValidationError
from galileo.scheduling.compositions import (
    N_APPS,
    NODE_CAPACITY,
    FloatArray,
    IntArray,
    all_compositions,
    index_of,
)

# The Metis data shipped with Galileo (package data; provenance and licence in its README)
METIS_DATA_DIR = Path(__file__).resolve().parent / "metis_data"
FULL_TABLE = Path("simulator/datasets/0905-6435results-normed.npz")
TRAIN_TABLE = Path("simulator/datasets/0905-2008results-median-normed.npz")
RULES_CSV = Path("interference_applist.csv")
BATCH_DIR = Path("data")
BATCH_SEED = 2020  # seed for regenerated batches (e.g. the broken batch_set_3000.npz)
BATCH_ROWS = 100


@dataclass(frozen=True)
class InterferenceTable:
    """Measured compositions: ``alloc`` (m × 7 counts) and ``rps`` (m × 7, 0 where absent)."""

    alloc: IntArray
    rps: FloatArray
    source: str = "memory"

    def dense(self) -> tuple[FloatArray, np.ndarray]:
        """Per-composition rps (6435 × 7, duplicates averaged) and a 'measured' mask."""
        n = len(all_compositions())
        idx = index_of(self.alloc)
        total = np.zeros((n, N_APPS))
        hits = np.zeros(n)
        np.add.at(total, idx, self.rps)
        np.add.at(hits, idx, 1.0)
        seen = hits > 0
        total[seen] /= hits[seen, None]
        return total, seen


@dataclass(frozen=True)
class Rule:
    """A pairwise placement rule (apps 0-based). ``kind`` 'max': with ``app_s`` on a node, at most
    ``threshold`` containers of ``app_c`` (the app itself counted when equal); 'min': at least."""

    app_s: int
    app_c: int
    kind: str
    threshold: int


def load_table(path: Path) -> InterferenceTable:
    """Load one ``.npz`` interference table; one clear error when it is missing or malformed.

    Only ``alloc`` and ``rps`` are read, without unpickling anything (the object arrays
    ``rt_50``/``rt_99`` are never touched), so a corrupt or hostile file is just rejected."""
    if not path.is_file():
        raise ConfigError(f"interference table {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            alloc = np.asarray(data["alloc"], dtype=np.float64)
            rps = np.asarray(data["rps"], dtype=np.float64)
    except (KeyError, ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "pickle" in reason:
            reason = "not an .npz archive"
        raise ValidationError(f"interference table {path} is not a valid .npz with numeric "
                              f"alloc and rps arrays ({reason})") from None
    if alloc.shape != rps.shape or alloc.ndim != 2 or alloc.shape[1] < N_APPS:
        raise ValidationError(f"interference table {path} needs alloc and rps of the same shape "
                              f"(rows, ≥7), got {alloc.shape} and {rps.shape}")
    alloc, rps = alloc[:, :N_APPS], rps[:, :N_APPS]
    if not np.isfinite(alloc).all():
        raise ValidationError(f"interference table {path}: alloc has non-finite counts")
    counts = np.rint(alloc).astype(np.int64)
    keep = (counts.sum(1) > 0) & (counts.sum(1) <= NODE_CAPACITY) & (counts >= 0).all(1)
    counts, rps = counts[keep], np.where(counts[keep] > 0, np.nan_to_num(rps[keep]), 0.0)
    if not len(counts):
        raise ValidationError(f"interference table {path} has no composition of 1-"
                              f"{NODE_CAPACITY} containers")
    return InterferenceTable(alloc=counts, rps=rps, source=str(path))


def load_rules(path: Path) -> list[Rule]:
    """Read ``interference_applist.csv`` (apps 1..7; ``less_or_lager`` 0 = at most, 1 = least)."""
    if not path.is_file():
        raise ConfigError(f"rule file {path} does not exist")
    rules = []
    with path.open(newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                rules.append(Rule(int(row["app_s"]) - 1, int(row["app_c"]) - 1,
                                  "min" if int(row["less_or_lager"]) else "max",
                                  int(row["threshold"])))
            except (KeyError, ValueError):
                raise ValidationError(f"{path} line {line}: expected app_s,app_c,less_or_lager,"
                                      "threshold integers") from None
    return rules


def derive_rules(table: InterferenceTable, tolerance: float = 0.10) -> list[Rule]:
    """Pairwise rules as the Metis ``InterferenceGenerate.py`` derives them (see module README)."""
    rps, seen = table.dense()
    rules = []
    for s in range(N_APPS):
        for c in range(N_APPS):
            ratios = []
            for k in range(NODE_CAPACITY):
                comp = np.zeros(N_APPS, dtype=np.int64)
                comp[s] += 1
                comp[c] += k
                i = int(index_of(comp))
                if i < 0 or not seen[i]:
                    break
                ratios.append(rps[i, s])
            if len(ratios) < 2:
                continue
            r = np.array(ratios) / ratios[0]
            if (r < 1 - tolerance).any():
                last = int(np.argmax(r < 1 - tolerance)) - 1
                rules.append(Rule(s, c, "max", last + 1 if s == c else last))
            elif (r > 1 + tolerance).any():
                rules.append(Rule(s, c, "min", 1))
    return rules


def load_batches(data_dir: Path, size: int, seed: int = BATCH_SEED) -> IntArray:
    """Batches of ``size`` containers (rows × 7): the Metis file when valid, else regenerated.

    ``batch_set_3000.npz`` upstream is a broken placeholder (rows sum to 6); missing or broken
    files are replaced by ``multinomial(size, [1/7]*7)`` rows drawn with a fixed seed."""
    path = data_dir / BATCH_DIR / f"batch_set_{size}.npz"
    if path.is_file():
        with np.load(path) as data:
            batches = np.asarray(data["batch_set"], dtype=np.int64)
        if batches.ndim == 2 and batches.shape[1] == N_APPS and (batches.sum(1) == size).all():
            return batches
    return synthetic_batches(size, BATCH_ROWS, seed + size)


def synthetic_batches(size: int, rows: int, seed: int,
                      apps: list[int] | None = None) -> IntArray:
    """``rows`` batches drawn from ``multinomial(size, [1/7]*7)`` with ``seed`` (or uniformly
    over ``apps`` only, the other columns 0)."""
    rng = np.random.default_rng(seed)
    if apps is None:
        return rng.multinomial(size, [1 / N_APPS] * N_APPS, size=rows).astype(np.int64)
    out = np.zeros((rows, N_APPS), dtype=np.int64)
    out[:, apps] = rng.multinomial(size, [1 / len(apps)] * len(apps), size=rows)
    return out


def parse_rows(spec: str) -> list[int]:
    """``"0-29"`` or ``"0,3,5-7"`` -> row indices; a clear error for anything else."""
    rows: list[int] = []
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValidationError(
                f"--rows {spec!r}: expected ranges like 0-29 or 0,3,5-7") from None
        if a < 0 or b < a:
            raise ValidationError(f"--rows {spec!r}: range {part.strip()} is empty or negative")
        rows.extend(range(a, b + 1))
    return rows
