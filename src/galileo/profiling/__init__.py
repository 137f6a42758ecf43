"""Interference profiling (``galileo profile``): co-locate workload services on a node, measure
each one's throughput and latency against running alone, and write a Metis-format dataset
(``.npz`` + ``interference_applist.csv``) that the scheduling lab loads like the Metis files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

# eager: the function ``plan`` shares its name with its submodule, which would shadow it
from galileo.profiling.plan import compositions, plan

if TYPE_CHECKING:
    from galileo.profiling.apps import PROFILE_APPS, ProfileApp, parse_apps
    from galileo.profiling.runner import ProfileConfig, Profiler, ProfileResult

__all__ = ["PROFILE_APPS", "ProfileApp", "ProfileConfig", "ProfileResult", "Profiler",
           "compositions", "parse_apps", "plan"]

__getattr__ = lazy_exports(__name__, {
    "PROFILE_APPS": "galileo.profiling.apps",
    "ProfileApp": "galileo.profiling.apps",
    "ProfileConfig": "galileo.profiling.runner",
    "ProfileResult": "galileo.profiling.runner",
    "Profiler": "galileo.profiling.runner",
    "parse_apps": "galileo.profiling.apps",
})
