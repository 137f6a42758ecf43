"""The worker daemon: turns bus commands into :mod:`galileo.load` client groups."""

from galileo.worker.daemon import Worker, run_worker

__all__ = ["Worker", "run_worker"]
