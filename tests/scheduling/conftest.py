"""Fixtures for the scheduling lab: a seeded synthetic dataset and the shipped Metis data."""

from __future__ import annotations

import pytest

from galileo.scheduling.data import METIS_DATA_DIR
from galileo.scheduling.dataset import Dataset, load_dataset, synthetic_dataset


@pytest.fixture(scope="session")
def synthetic() -> Dataset:
    return synthetic_dataset(seed=0)


@pytest.fixture(scope="session")
def metis() -> Dataset:
    return load_dataset(METIS_DATA_DIR)
