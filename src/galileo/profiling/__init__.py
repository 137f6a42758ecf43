"""Interference profiling (``galileo profile``): co-locate workload services on a node, measure
each one's throughput and latency against running alone, and write a Metis-format dataset
(``.npz`` + ``interference_applist.csv``) that the scheduling lab loads like the Metis files."""

from galileo.profiling.apps import PROFILE_APPS, ProfileApp, parse_apps
from galileo.profiling.plan import compositions, plan
from galileo.profiling.runner import ProfileConfig, Profiler, ProfileResult

__all__ = ["PROFILE_APPS", "ProfileApp", "ProfileConfig", "ProfileResult", "Profiler",
           "compositions", "parse_apps", "plan"]
