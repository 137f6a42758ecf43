"""Fixtures for the scheduling lab: a synthetic dataset always, the Metis data when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from galileo.scheduling.dataset import Dataset, load_dataset, synthetic_dataset

METIS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "metis-data"


@pytest.fixture(scope="session")
def synthetic() -> Dataset:
    return synthetic_dataset(seed=0)


@pytest.fixture(scope="session")
def metis() -> Dataset:
    if not METIS_DIR.is_dir():
        pytest.skip(f"Metis data not found at {METIS_DIR.resolve()} (../shared/metis-data); "
                    "the synthetic-data tests cover the rest")
    return load_dataset(METIS_DIR)
