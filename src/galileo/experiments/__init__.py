"""Experiments as jobs: scenarios and scripts, the engine, Celery runners, the seed bridge.

The facade every front end calls is :class:`~galileo.experiments.service.ExperimentService`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.experiments.model import ExperimentStatusView, JobKind
    from galileo.experiments.service import ExperimentService

__all__ = ["ExperimentService", "ExperimentStatusView", "JobKind"]

__getattr__ = lazy_exports(__name__, {
    "ExperimentService": "galileo.experiments.service",
    "ExperimentStatusView": "galileo.experiments.model",
    "JobKind": "galileo.experiments.model",
})
