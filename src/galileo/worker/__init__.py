"""The worker daemon: turns bus commands into :mod:`galileo.load` client groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.worker.daemon import Worker, run_worker

__all__ = ["Worker", "run_worker"]

__getattr__ = lazy_exports(__name__, {
    "Worker": "galileo.worker.daemon",
    "run_worker": "galileo.worker.daemon",
})
