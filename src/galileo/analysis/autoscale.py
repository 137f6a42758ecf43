"""Autoscaler evaluation: replicas over time and the metrics that judge a policy, computed from
a run's stored per-second stats (:class:`~galileo.analysis.report.runs.ServiceSeries`) and its
``autoscale`` events.

The functions at the top are pure (plain numbers in, numbers out) and carry the definitions:

* :func:`slo_violation_seconds` -- seconds whose p99 is over the SLO (a second with requests but
  no answer counts as a violation);
* :func:`replica_seconds` -- the integral of a replica step function (the cost: declared
  replicas);
* :func:`reaction_time` -- from a load step to the first scale-up decided at or after it;
* :func:`time_to_settle` -- from a load step to the last change of replicas before a horizon;
* :func:`direction_changes` -- how often scaling turned from up to down or back (oscillation).

:func:`replica_timeline` reads the events; :func:`evaluate` applies all of them to one run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

NS_PER_S: Final = 1_000_000_000
AUTOSCALE: Final = "autoscale"  # galileo.protocol.EventKind.AUTOSCALE
STEP_FACTOR: Final = 1.2  # a target rise of at least 20 % is a load step
# a window's load step may be planned a little before the window's start: the run's t0 is its
# first intended send, which comes a few ms after the group's rate events
STEP_SLACK_S: Final = 1.0

Steps = list[tuple[float, float]]  # (t_s, value): value holds from t_s until the next point


@dataclass(frozen=True)
class ScaleDecision:
    """One recorded autoscaler decision, in seconds since the run's start."""

    t_s: float
    service: str
    action: str  # "scale" or "hold"
    replicas_from: int
    replicas_to: int
    ready: int | None  # ready instances the autoscaler saw
    policy: str = ""
    metric: str = ""
    observed: float | None = None
    target: float | None = None
    reason: str = ""

    @property
    def direction(self) -> int:
        """+1 for a scale-up, -1 for a scale-down, 0 for a hold."""
        return (self.replicas_to > self.replicas_from) - (self.replicas_to < self.replicas_from)


@dataclass
class ReplicaSeries:
    """Declared and ready replicas of one service over a run, as step functions."""

    service: str
    declared: Steps = field(default_factory=list)
    ready: Steps = field(default_factory=list)
    decisions: list[ScaleDecision] = field(default_factory=list)


# ---------------------------------------------------------------------- pure metrics
def slo_violation_seconds(p99_ms: Sequence[float | None], slo_ms: float,
                          sent: Sequence[int] | None = None) -> int:
    """Seconds whose p99 (ms) is over ``slo_ms``; with ``sent``, a second that sent requests
    but got no answer (p99 ``None``/NaN) counts as a violation as well."""
    count = 0
    for i, p in enumerate(p99_ms):
        missing = p is None or not math.isfinite(p)
        if missing:
            count += bool(sent is not None and i < len(sent) and sent[i] > 0)
        elif p > slo_ms:  # type: ignore[operator]  # p is a float here
            count += 1
    return count


def value_at(steps: Steps, t_s: float, default: float = 0.0) -> float:
    """The step function's value at ``t_s`` (``default`` before its first point)."""
    out = default
    for t, v in steps:
        if t > t_s:
            break
        out = v
    return out


def replica_seconds(steps: Steps, start_s: float, end_s: float, initial: float = 0.0) -> float:
    """The integral of ``steps`` over ``[start_s, end_s]`` (``initial`` before its first
    point): replica-seconds when ``steps`` are replicas."""
    if end_s <= start_s:
        return 0.0
    total, t_prev, v_prev = 0.0, start_s, value_at(steps, start_s, initial)
    for t, v in steps:
        if t <= start_s:
            continue
        if t >= end_s:
            break
        total += v_prev * (t - t_prev)
        t_prev, v_prev = t, v
    return total + v_prev * (end_s - t_prev)


def reaction_time(decisions: Iterable[ScaleDecision], step_s: float) -> float | None:
    """Seconds from the load step at ``step_s`` to the first scale-up decided at or after it
    (``None``: none followed)."""
    for d in decisions:
        if d.t_s >= step_s and d.direction > 0:
            return d.t_s - step_s
    return None


def time_to_settle(steps: Steps, step_s: float, until_s: float) -> float:
    """Seconds from ``step_s`` to the last change of ``steps`` in ``(step_s, until_s]``: from
    then to ``until_s`` the replicas stay put (0 when they never changed)."""
    last = step_s
    prev = value_at(steps, step_s, math.nan)
    for t, v in steps:
        if step_s < t <= until_s and v != prev:
            last = t
        if t > step_s:
            prev = v
    return last - step_s


def direction_changes(decisions: Iterable[ScaleDecision]) -> int:
    """How often consecutive scales went the other way (up then down, or down then up)."""
    dirs = [d.direction for d in decisions if d.direction]
    return sum(1 for a, b in itertools.pairwise(dirs) if a != b)


def first_step_up(target: Sequence[tuple[float, float]], factor: float = STEP_FACTOR,
                  after_s: float = 0.0) -> float | None:
    """When the planned rate first rose by at least ``factor`` (from above 0) at or after
    ``after_s``: the time its rise began, from the target's breakpoints (``None``: never)."""
    for (t0, v0), (_t1, v1) in itertools.pairwise(target):
        if t0 >= after_s and v0 > 0 and v1 >= v0 * factor:
            return t0
    return None


# ---------------------------------------------------------------------- from events
def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def decisions_of(events: Iterable[Mapping[str, Any]], t0_ns: int) -> list[ScaleDecision]:
    """The ``autoscale`` events among ``events`` (expdb rows) as decisions, in time order."""
    out = []
    for e in events:
        if str(e.get("kind")) != AUTOSCALE:
            continue
        data = e.get("data") or {}
        inputs = data.get("inputs") or {}
        ready = inputs.get("ready") if isinstance(inputs, Mapping) else None
        try:
            out.append(ScaleDecision(
                t_s=(int(e["ts_ns"]) - t0_ns) / NS_PER_S,
                service=str(data.get("service") or e.get("name") or ""),
                action=str(data.get("action") or ""),
                replicas_from=int(data["replicas_from"]), replicas_to=int(data["replicas_to"]),
                ready=int(ready) if isinstance(ready, int) else None,
                policy=str(data.get("policy") or ""), metric=str(data.get("metric") or ""),
                observed=_float(data.get("observed")), target=_float(data.get("target")),
                reason=str(data.get("reason") or "")))
        except (KeyError, TypeError, ValueError):
            continue  # not a decision this version can read
    return sorted(out, key=lambda d: d.t_s)


def replica_timeline(events: Iterable[Mapping[str, Any]], t0_ns: int
                     ) -> dict[str, ReplicaSeries]:
    """Per service with ``autoscale`` events: declared replicas (``replicas_to`` from each
    decision on, ``replicas_from`` before the first) and the ready instances each decision
    saw."""
    out: dict[str, ReplicaSeries] = {}
    for d in decisions_of(events, t0_ns):
        s = out.setdefault(d.service, ReplicaSeries(d.service))
        if not s.declared:
            s.declared.append((d.t_s, float(d.replicas_from)))
        if d.replicas_to != s.declared[-1][1]:
            s.declared.append((d.t_s, float(d.replicas_to)))
        if d.ready is not None and (not s.ready or s.ready[-1][1] != d.ready):
            s.ready.append((d.t_s, float(d.ready)))
        s.decisions.append(d)
    return out


# ---------------------------------------------------------------------- one run
@dataclass(frozen=True)
class AutoscaleMetrics:
    """The evaluation of one service's autoscaler over a window of one run (see the module's
    doc); times in seconds since the run's start."""

    service: str
    start_s: float
    end_s: float
    slo_ms: float
    slo_violation_s: int
    replica_seconds: float
    step_s: float | None
    reaction_s: float | None
    settle_s: float | None
    direction_changes: int
    scales: int
    max_replicas: int

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


def evaluate(sent: Sequence[int], p99_ms: Sequence[float | None], target: Sequence[
        tuple[float, float]], replicas: ReplicaSeries | None, slo_ms: float, *,
        service: str = "", start_s: float = 0.0, end_s: float | None = None,
        step_s: float | None = None) -> AutoscaleMetrics:
    """All metrics of one service over ``[start_s, end_s)`` (default: the whole run), from
    per-second ``sent`` and ``p99_ms`` (index = second), the planned rate's breakpoints
    ``target`` and its replicas. ``step_s`` defaults to the first step up of ``target`` in the
    window (or up to :data:`STEP_SLACK_S` before it); time to settle looks until ``end_s``.
    Replica-seconds count the *declared* replicas (an instance costs from its start, ready or
    not, and an overloaded one that fails its health check still runs); direction changes and
    scales count the decisions in the window."""
    end = float(len(sent)) if end_s is None else end_s
    lo, hi = max(0, math.floor(start_s)), max(0, math.ceil(end))
    step = first_step_up(target, after_s=start_s - STEP_SLACK_S) if step_s is None else step_s
    if step is not None and step >= end:
        step = None
    series = replicas or ReplicaSeries(service)
    cost_steps = series.declared
    initial = cost_steps[0][1] if cost_steps else 0.0
    inside = [d for d in series.decisions if start_s <= d.t_s < end]
    return AutoscaleMetrics(
        service=service or series.service, start_s=float(start_s), end_s=end, slo_ms=slo_ms,
        slo_violation_s=slo_violation_seconds(p99_ms[lo:hi], slo_ms, sent[lo:hi]),
        replica_seconds=replica_seconds(cost_steps, start_s, end, initial),
        step_s=step,
        reaction_s=None if step is None else reaction_time(inside, step),
        settle_s=None if step is None else time_to_settle(series.declared, step, end),
        direction_changes=direction_changes(inside),
        scales=sum(1 for d in inside if d.direction),
        max_replicas=int(max([value_at(series.declared, start_s, initial)]
                             + [v for t, v in series.declared if start_s <= t < end])))
