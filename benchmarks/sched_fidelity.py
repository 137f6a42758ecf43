"""Simulator fidelity: the RF simulator (20 % data) against the complete table.

    .venv/bin/python benchmarks/sched_fidelity.py
"""

from __future__ import annotations

from pathlib import Path

from galileo.scheduling.dataset import load_dataset
from galileo.scheduling.sim import fidelity
from galileo.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    ds = load_dataset(Path(settings.sched_data_dir))
    for key, value in fidelity(ds.sim("table"), ds.sim("rf")).items():
        print(f"{key:<26} {value:.4f}")


if __name__ == "__main__":
    main()
