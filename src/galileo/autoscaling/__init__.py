"""Autoscaling: policies on live stats deciding a service's replicas through ``g.services``.

``Autoscaler(g, "kv", "cpu", 1, 5, period_s=5, cooldown_s=10, options={"target": 0.6}).start()``
runs one in a background thread (``.stop()`` ends it, ``.step()`` does one step); every decision
is an ``autoscale`` event. ``galileo autoscale`` runs one in the foreground and a scenario's
``autoscalers:`` run for the duration of its load. See docs/autoscaling.md.
"""

from __future__ import annotations

from .autoscaler import Autoscaler, Decision, check_bounds, settle
from .policies import (
    BUILTIN_POLICIES,
    ConcurrencyPolicy,
    CpuPolicy,
    LatencyPolicy,
    Observation,
    Policy,
    Proposal,
    SchedulePolicy,
    load_policy,
    parse_schedule,
)

__all__ = ["BUILTIN_POLICIES", "Autoscaler", "ConcurrencyPolicy", "CpuPolicy", "Decision",
           "LatencyPolicy", "Observation", "Policy", "Proposal", "SchedulePolicy", "check_bounds",
           "load_policy", "parse_schedule", "settle"]
