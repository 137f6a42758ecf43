"""Fault-suite fixtures: a fresh :class:`faultrig.Rig` per test (own Redis server, target,
processes and expdb), removed even when the test fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faultrig import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with Rig(tmp_path) as r:
        yield r
