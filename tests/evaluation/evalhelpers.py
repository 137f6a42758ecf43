"""Evaluation test helpers: a real resource-limited testbed (namespaces, host cgroups, node
agents), always taken down; the CLI run as a subprocess against it; tables and CSV files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from galileo.errors import ConfigError
from galileo.testbed import Testbed
from galileo.testbed.cgroups import Resources
from galileo.testbed.netns import check_privileges


def up(data_dir: Path, prefix: str, hosts: int, cpus: float,
       host_cpus: dict[str, float] | None = None) -> Iterator[Testbed]:
    """A testbed with ``cpus`` per host (``host_cpus`` overriding), removed afterwards."""
    try:
        check_privileges()
    except ConfigError as e:
        pytest.skip(f"testbed tests need root: {e}")
    Testbed.down_prefix(data_dir, prefix)
    per_host = {h: Resources.parse(c) for h, c in (host_cpus or {}).items()}
    with Testbed.up(hosts, data_dir=data_dir, prefix=prefix, resources=Resources.parse(cpus),
                    host_resources=per_host) as tb:
        yield tb


def cli(data_dir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``galileo ARGS…`` with the testbed's data directory and no other galileo_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env["galileo_data_dir"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "galileo", *args], env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


def write_table(path: Path, rows: Sequence[tuple[dict[int, int], dict[int, float]]]) -> Path:
    """A Metis-format table: each row's counts and normalised rps by Metis column."""
    alloc = np.zeros((len(rows), 9), dtype=np.int64)
    rps = np.full((len(rows), 9), np.nan)
    for r, (counts, values) in enumerate(rows):
        for col, n in counts.items():
            alloc[r, col] = n
            rps[r, col] = values[col]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, alloc=alloc, rps=rps)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))
