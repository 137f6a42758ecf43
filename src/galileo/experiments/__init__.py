"""Experiments as jobs: scenarios and scripts, the engine, Celery runners, the seed bridge.

The facade every front end calls is :class:`~galileo.experiments.service.ExperimentService`."""

from __future__ import annotations

from .model import ExperimentStatusView, JobKind
from .service import ExperimentService

__all__ = ["ExperimentService", "ExperimentStatusView", "JobKind"]
