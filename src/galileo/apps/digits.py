"""scikit-learn's bundled 8x8 digits (nothing downloaded), split once and the same everywhere."""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

TEST_FRACTION = 0.25
SPLIT_SEED = 0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@cache
def split() -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """``(x_train, x_test, y_train, y_test)``: pixels 0..16, a fixed stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y
    )
    return x_train, x_test, y_train, y_test
