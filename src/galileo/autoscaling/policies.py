"""Autoscaling policies: one small class each behind :class:`Policy`, pure logic.

A policy sees one :class:`Observation` per autoscaler period (replicas, ready instances, their CPU
use, the live stats of the client groups sending to the service) and proposes a number of
replicas with the reason (:class:`Proposal`); a proposal of ``None`` holds the replicas because
the metric is missing, and says why. The :class:`~galileo.autoscaling.Autoscaler` clamps the
proposal to ``[min, max]``, applies its cooldown and scales.

Built in (rules and options in docs/autoscaling.md):

* ``cpu`` -- the Kubernetes HPA rule on CPU utilisation relative to the CPU request;
* ``latency`` -- p99 latency of the clients vs an SLO, with a hysteresis band;
* ``concurrency`` -- in-flight requests per replica with Knative's stable and panic windows;
* ``schedule`` -- replicas by time offset (``0s=1,30s=3,60s=1``).

A researcher subclasses :class:`Policy` and loads it as ``module:Class`` (or by its ``name``)
from a module listed in ``galileo_autoscale_policy_modules``: nothing else is imported.
"""

from __future__ import annotations

import inspect
import math
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from galileo.errors import ConfigError
from galileo.plugins import PluginKind

__all__ = ["BUILTIN_POLICIES", "ConcurrencyPolicy", "CpuPolicy", "LatencyPolicy", "Observation",
           "Policy", "Proposal", "SchedulePolicy", "load_policy", "parse_schedule"]


@dataclass(frozen=True)
class Observation:
    """What the autoscaler saw at one step (``None``: not measured)."""

    t_s: float  # seconds since the autoscaler started (monotonic)
    replicas: int  # declared replicas now
    ready: int = 0  # ready instances
    cpu_request: float = 0.0  # cores each instance asked for (the service's cpus; 0: none)
    cpu_used: tuple[float, ...] = ()  # cores used by each ready instance that was measured
    groups: int = 0  # live client groups sending to the service
    stats_seconds: int = 0  # seconds of their live stats in the window
    rps: float | None = None  # requests sent per second over the window (all groups)
    p99_ms: float | None = None  # p99 latency from the intended send time over the window
    inflight: float | None = None  # mean requests in flight over the window (all groups)
    missing: str = ""  # why the live stats are missing ("" when there are some)


@dataclass(frozen=True)
class Proposal:
    """A policy's answer: replicas wanted (``None``: hold, the metric is missing) and why."""

    desired: int | None
    reason: str
    observed: float | None = None
    target: float | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


def _number(policy: str, key: str, value: object, *, low: float = 0.0,
            low_open: bool = True) -> float:
    """An option as a float above (or at) ``low``; one sentence otherwise."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    ok = math.isfinite(number) and (number > low if low_open else number >= low)
    if not ok:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise ConfigError(f"autoscaling policy {policy!r}: option {key} must be a number "
                          f"{bound}, got {value!r}.")
    return number


class Policy(ABC):
    """Proposes replicas from an :class:`Observation`; ``options`` come from the spec
    (``name,key=value``), ``--option key=value`` or a scenario's ``options:``."""

    name: ClassVar[str] = ""
    metric: ClassVar[str] = ""  # what ``observed`` measures, e.g. "cpu_utilisation"

    def __init__(self, **options: Any) -> None:
        if options:
            raise ConfigError(f"autoscaling policy {self.name!r} has no option(s) "
                              f"{', '.join(sorted(options))}{self._known()}.")

    def _known(self) -> str:
        names = [p.name for p in inspect.signature(type(self).__init__).parameters.values()
                 if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD]
        return f" (options: {', '.join(names)})" if names else " (it takes none)"

    @abstractmethod
    def propose(self, obs: Observation) -> Proposal:
        """Replicas wanted now (before clamping and cooldown), with the reason."""

    def describe(self) -> str:
        return self.name


class DownStabiliser:
    """Scale-down stabilisation (Kubernetes HPA's): the highest recommendation of the last
    ``window_s`` seconds (the current one included), never above the current replicas; a
    scale-up passes at once. A window of 0 passes everything."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._recommendations: deque[tuple[float, int]] = deque()

    def __call__(self, now: float, raw: int, current: int) -> int:
        recs = self._recommendations
        recs.append((now, raw))
        while recs and recs[0][0] < now - self.window_s:
            recs.popleft()
        if raw >= current:
            return raw
        return min(current, max(r for _t, r in recs))


class CpuPolicy(Policy):
    """The Kubernetes HPA rule on CPU utilisation (used cores / requested cores)."""

    name = "cpu"
    metric = "cpu_utilisation"

    def __init__(self, target: object = 0.6, tolerance: object = 0.1, window_s: object = 300.0,
                 **options: Any) -> None:
        super().__init__(**options)
        self.target = _number(self.name, "target", target)
        self.tolerance = _number(self.name, "tolerance", tolerance, low_open=False)
        self.window_s = _number(self.name, "window_s", window_s, low_open=False)
        self._stabilise = DownStabiliser(self.window_s)

    def describe(self) -> str:
        return (f"cpu,target={self.target:g},tolerance={self.tolerance:g},"
                f"window_s={self.window_s:g}")

    def propose(self, obs: Observation) -> Proposal:
        if obs.cpu_request <= 0:
            return Proposal(None, "the service has no CPU request (cpus=0): its utilisation is "
                            "undefined", target=self.target)
        if not obs.cpu_used:
            return Proposal(None, f"no CPU measurement of a ready instance yet ({obs.ready} "
                            "ready)", target=self.target)
        measured = len(obs.cpu_used)
        utilisation = sum(obs.cpu_used) / measured / obs.cpu_request
        ratio = utilisation / self.target
        inputs = {"cpu_used": [round(c, 4) for c in obs.cpu_used],
                  "cpu_request": obs.cpu_request, "measured": measured, "ratio": round(ratio, 4),
                  "tolerance": self.tolerance, "window_s": self.window_s}
        if abs(ratio - 1.0) <= self.tolerance:
            raw = obs.replicas
            why = (f"utilisation {utilisation:.2f} is within {self.tolerance:.0%} of the target "
                   f"{self.target:g}")
        else:
            raw = math.ceil(ratio * measured - 1e-9)
            why = (f"utilisation {utilisation:.2f} vs target {self.target:g}: "
                   f"ceil({measured} x {ratio:.2f}) = {raw}")
            if raw < obs.replicas and measured < obs.replicas:
                raw = obs.replicas  # never scale down on a partial view (Kubernetes does alike)
                why += f"; only {measured} of {obs.replicas} replicas measured: no scale-down"
        desired = self._stabilise(obs.t_s, raw, obs.replicas)
        if desired != raw:
            why += (f"; scale-down stabilisation: the highest recommendation of the last "
                    f"{self.window_s:g} s is {desired}")
        inputs["recommendation"] = raw
        return Proposal(desired, why, round(utilisation, 4), self.target, inputs)


class LatencyPolicy(Policy):
    """p99 latency of the clients vs an SLO: up when over it, down one replica when well under
    (below ``low`` x SLO), hold inside the band; with ``window_s`` > 0 a scale-down waits until
    no proposal of the last ``window_s`` seconds wanted more (as the CPU policy's)."""

    name = "latency"
    metric = "p99_ms"

    def __init__(self, slo_ms: object = 100.0, low: object = 0.5, max_factor: object = 2.0,
                 window_s: object = 0.0, **options: Any) -> None:
        super().__init__(**options)
        self.slo_ms = _number(self.name, "slo_ms", slo_ms)
        self.low = _number(self.name, "low", low)
        if self.low >= 1:
            raise ConfigError(f"autoscaling policy 'latency': option low must be below 1 (a "
                              f"fraction of the SLO), got {low!r}.")
        self.max_factor = _number(self.name, "max_factor", max_factor, low=1.0, low_open=False)
        self.window_s = _number(self.name, "window_s", window_s, low_open=False)
        self._stabilise = DownStabiliser(self.window_s)

    def describe(self) -> str:
        return (f"latency,slo_ms={self.slo_ms:g},low={self.low:g},"
                f"max_factor={self.max_factor:g}" +
                (f",window_s={self.window_s:g}" if self.window_s else ""))

    def propose(self, obs: Observation) -> Proposal:
        if obs.p99_ms is None:
            return Proposal(None, obs.missing or "no latency measured", target=self.slo_ms)
        n = max(obs.replicas, 1)
        p99 = obs.p99_ms
        inputs = {"slo_ms": self.slo_ms, "low_ms": self.slo_ms * self.low, "rps": obs.rps,
                  "seconds": obs.stats_seconds, "groups": obs.groups}
        if p99 > self.slo_ms:
            desired = max(obs.replicas + 1, min(math.ceil(n * p99 / self.slo_ms - 1e-9),
                                                math.floor(n * self.max_factor)))
            why = f"p99 {p99:.1f} ms is over the SLO {self.slo_ms:g} ms"
        elif p99 < self.slo_ms * self.low and obs.replicas > 0:
            desired = obs.replicas - 1
            why = (f"p99 {p99:.1f} ms is well under the SLO (below {self.low:g} x "
                   f"{self.slo_ms:g} ms): one replica less")
        else:
            desired = obs.replicas
            why = (f"p99 {p99:.1f} ms is inside the band [{self.low * self.slo_ms:g}, "
                   f"{self.slo_ms:g}] ms")
        stable = self._stabilise(obs.t_s, desired, obs.replicas)
        if stable != desired:
            why += (f"; scale-down stabilisation: the highest proposal of the last "
                    f"{self.window_s:g} s is {stable}")
            desired = stable
        return Proposal(desired, why, round(p99, 3), self.slo_ms, inputs)


class ConcurrencyPolicy(Policy):
    """In-flight requests per replica vs ``target``, averaged over a stable window (60 s); a
    panic window (6 s) takes over when it wants ``panic_threshold`` x the ready replicas, and
    while panicking (until a stable window passes without a new trigger) nothing scales down.
    In flight is what the client groups count (sent, not yet answered) each second."""

    name = "concurrency"
    metric = "inflight"

    def __init__(self, target: object = 10.0, stable_s: object = 60.0, panic_s: object = 6.0,
                 panic_threshold: object = 2.0, **options: Any) -> None:
        super().__init__(**options)
        self.target = _number(self.name, "target", target)
        self.stable_s = _number(self.name, "stable_s", stable_s)
        self.panic_s = _number(self.name, "panic_s", panic_s)
        if self.panic_s > self.stable_s:
            raise ConfigError(f"autoscaling policy 'concurrency': the panic window ({panic_s}) "
                              f"must not be longer than the stable window ({stable_s}).")
        self.panic_threshold = _number(self.name, "panic_threshold", panic_threshold, low=1.0,
                                       low_open=False)
        self._samples: deque[tuple[float, float]] = deque()
        self._panic_since: float | None = None
        self._panic_max = 0

    def describe(self) -> str:
        return (f"concurrency,target={self.target:g},stable_s={self.stable_s:g},"
                f"panic_s={self.panic_s:g},panic_threshold={self.panic_threshold:g}")

    def propose(self, obs: Observation) -> Proposal:
        if obs.inflight is None:
            return Proposal(None, obs.missing or "no in-flight count measured",
                            target=self.target)
        now = obs.t_s
        self._samples.append((now, obs.inflight))
        while self._samples and self._samples[0][0] <= now - self.stable_s:
            self._samples.popleft()
        stable = _mean(v for t, v in self._samples)
        panic = _mean(v for t, v in self._samples if t > now - self.panic_s)
        want_stable = math.ceil(stable / self.target - 1e-9)
        want_panic = math.ceil(panic / self.target - 1e-9)
        ready = max(obs.ready, 1)
        inputs = {"stable_inflight": round(stable, 3), "panic_inflight": round(panic, 3),
                  "want_stable": want_stable, "want_panic": want_panic, "ready": obs.ready,
                  "stable_s": self.stable_s, "panic_s": self.panic_s}
        if want_panic / ready >= self.panic_threshold and want_panic > obs.replicas:
            if self._panic_since is None:
                self._panic_max = 0
            self._panic_since = now  # enter, or extend, the panic
        if self._panic_since is not None and now - self._panic_since >= self.stable_s:
            self._panic_since = None  # a stable window without a trigger: panic over
        inputs["panicking"] = self._panic_since is not None
        if self._panic_since is not None:
            desired = max(want_panic, obs.replicas, self._panic_max)
            self._panic_max = desired
            why = (f"panic: {panic:.1f} in flight over {self.panic_s:g} s wants {want_panic} "
                   f"(>= {self.panic_threshold:g} x {ready} ready); no scale-down while "
                   "panicking")
            return Proposal(desired, why, round(panic, 3), self.target, inputs)
        why = (f"{stable:.1f} in flight over {self.stable_s:g} s / target {self.target:g} per "
               f"replica = {want_stable}")
        return Proposal(want_stable, why, round(stable, 3), self.target, inputs)


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


_STEP_RE: Final = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*=\s*([0-9]+)\s*$")
_UNIT_S: Final = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_schedule(text: str) -> list[tuple[float, int]]:
    """``"0s=1,30s=3,1m=1"`` -> ``[(0.0, 1), (30.0, 3), (60.0, 1)]`` (sorted; separators ``,``
    ``;`` or spaces). One sentence for anything else."""
    steps: dict[float, int] = {}
    for part in [p for p in re.split(r"[,;\s]+(?=[0-9.])", text.strip()) if p.strip()]:
        m = _STEP_RE.match(part)
        if not m:
            raise ConfigError(f"autoscaling schedule step {part.strip()!r} is not OFFSET=REPLICAS "
                              "like 30s=3.")
        at = float(m.group(1)) * _UNIT_S[m.group(2)]
        if at in steps:
            raise ConfigError(f"autoscaling schedule names the offset {part.split('=')[0]!r} "
                              "twice.")
        steps[at] = int(m.group(3))
    if not steps:
        raise ConfigError("autoscaling schedule is empty: give steps like 0s=1,30s=3,60s=1.")
    return sorted(steps.items())


class SchedulePolicy(Policy):
    """Replicas by time offset since the autoscaler started (option ``at``)."""

    name = "schedule"
    metric = "time_s"

    def __init__(self, at: object = "", **options: Any) -> None:
        super().__init__(**options)
        if not str(at).strip():
            raise ConfigError("autoscaling policy 'schedule' needs the option at, e.g. "
                              "at=0s=1,30s=3,60s=1.")
        self.steps = parse_schedule(str(at))

    def describe(self) -> str:
        return "schedule,at=" + ";".join(f"{t:g}s={n}" for t, n in self.steps)

    def propose(self, obs: Observation) -> Proposal:
        due = [(t, n) for t, n in self.steps if t <= obs.t_s]
        inputs = {"steps": [[t, n] for t, n in self.steps]}
        if not due:
            return Proposal(None, f"the schedule starts at {self.steps[0][0]:g} s",
                            round(obs.t_s, 3), None, inputs)
        at, n = due[-1]
        return Proposal(n, f"schedule: {n} replica(s) from {at:g} s", round(obs.t_s, 3), None,
                        inputs)


BUILTIN_POLICIES: Final[dict[str, type[Policy]]] = {
    "cpu": CpuPolicy, "latency": LatencyPolicy, "concurrency": ConcurrencyPolicy,
    "schedule": SchedulePolicy,
}
ALIASES: Final = {"hpa": "cpu", "knative": "concurrency", "kpa": "concurrency"}

POLICIES: Final = PluginKind(
    "autoscaling policy", Policy, BUILTIN_POLICIES, aliases=ALIASES,
    allow_hint="add it to galileo_autoscale_policy_modules")


def load_policy(spec: str, options: Mapping[str, Any] | None = None,
                allowed_modules: Iterable[str] = ()) -> Policy:
    """Build the policy ``spec`` names (``name[,key=value...]`` or ``module:Class[,...]``) with
    ``options`` added (they win over the spec's); ``module:Class`` loads only from a module in
    ``allowed_modules``. :class:`ConfigError` with one sentence otherwise."""
    name, _sep, rest = spec.strip().partition(",")
    merged: dict[str, Any] = {}
    if rest:
        for pair in _spec_pairs(rest):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"autoscaling policy option {pair!r} in {spec!r} is not "
                                  "key=value.")
            merged[key.strip()] = value.strip()
    merged.update({str(k): v for k, v in (options or {}).items()})
    if not name.strip():
        raise ConfigError("autoscaling policy is empty: give cpu, latency, concurrency, "
                          "schedule or module:Class.")
    cls: Any = POLICIES.find(name.strip(), tuple(m.strip() for m in allowed_modules
                                                 if m.strip()))
    try:
        policy: Policy = cls(**merged)
    except TypeError as e:
        raise ConfigError(f"autoscaling policy {spec!r}: {e}.") from None
    return policy


def _spec_pairs(rest: str) -> list[str]:
    """``a=1,at=0s=1,30s=3`` -> ``["a=1", "at=0s=1,30s=3"]``: a part without a key of its own
    (``30s=3``) continues the previous value, so a schedule fits in a spec."""
    out: list[str] = []
    for part in rest.split(","):
        if out and re.match(r"^\s*[0-9.]", part):
            out[-1] += "," + part
        else:
            out.append(part)
    return out
