"""The autoscaler loop: every ``period_s`` observe the service, ask the policy, clamp to
``[min, max]``, respect the cooldown, scale through ``g.services.scale`` and record the decision
as an ``autoscale`` event (a scale always; a hold when it differs from the last one recorded)."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.errors import BusError, ConfigError, GalileoError, NotFoundError
from galileo.events import EventLog
from galileo.protocol import EventKind

from .metrics import observe
from .policies import Observation, Policy, Proposal, load_policy

__all__ = ["Autoscaler", "Decision"]

log = logging.getLogger(__name__)
KEEP_DECISIONS: Final = 1000


@dataclass(frozen=True)
class Decision:
    """One step of an autoscaler; ``event_data()`` is the ``autoscale`` event's data."""

    t_s: float
    ts_ns: int
    service: str
    policy: str
    action: str  # "scale" or "hold"
    replicas_from: int
    replicas_to: int
    desired: int | None  # the policy's proposal before clamping (None: metric missing)
    metric: str
    observed: float | None
    target: float | None
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def event_data(self) -> dict[str, Any]:
        return {"service": self.service, "policy": self.policy, "action": self.action,
                "replicas_from": self.replicas_from, "replicas_to": self.replicas_to,
                "desired": self.desired, "metric": self.metric, "observed": self.observed,
                "target": self.target, "inputs": self.inputs, "reason": self.reason,
                "t_s": round(self.t_s, 3)}

    def _key(self) -> tuple[object, ...]:
        """What makes a hold worth recording again: its replicas (declared and ready), proposal
        and kind of reason (so the stored decisions also trace the ready replicas over time)."""
        kind = (re.sub(r"[0-9][0-9.]*", "#", self.reason) if self.desired is None
                else "cooldown" in self.reason)
        return (self.action, self.replicas_from, self.replicas_to, self.desired, kind,
                self.inputs.get("ready"))


class Autoscaler:
    """Scales ``service`` between ``min_replicas`` and ``max_replicas`` by ``policy``.

    ``Autoscaler(g, "kv", "cpu", 1, 5, period_s=5, cooldown_s=10, options={"target": 0.5})``;
    ``.start()`` runs it in a background thread until ``.stop()``, ``.step()`` does one step.
    Bad arguments, an unknown policy or service raise one sentence (exit 2 at the CLI)."""

    def __init__(self, galileo: Galileo, service: str, policy: str | Policy = "cpu",
                 min_replicas: int = 1, max_replicas: int = 10, period_s: float = 15.0,
                 cooldown_s: float = 0.0, options: Mapping[str, Any] | None = None, *,
                 exp_id: str | None = None, allowed_modules: tuple[str, ...] | None = None,
                 on_decision: Callable[[Decision], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        check_bounds(min_replicas, max_replicas, period_s, cooldown_s)
        if allowed_modules is None:
            allowed_modules = tuple(m for m in galileo.settings.autoscale_policy_modules
                                    .split(",") if m.strip())
        if isinstance(policy, Policy):
            if options:
                raise ConfigError("give the options with the policy name, not with a built "
                                  "policy.")
            self.policy = policy
        else:
            self.policy = load_policy(policy, options, allowed_modules)
        self.g = galileo
        self.service = service
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.period_s, self.cooldown_s = float(period_s), float(cooldown_s)
        self.window_s = max(1, math.ceil(self.period_s))
        self._events = EventLog(galileo.redis, galileo.keys, exp_id) if exp_id else galileo.events
        self._on_decision = on_decision
        self._clock = clock
        self._t0: float | None = None
        self._last_change: float | None = None
        self._last_logged: Decision | None = None
        self.decisions: deque[Decision] = deque(maxlen=KEEP_DECISIONS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if galileo.services.get(service) is None:
            known = ", ".join(s.name for s in galileo.services.declared()) or "none"
            raise NotFoundError(f"no service {service!r} is declared (declared: {known}).")

    def __repr__(self) -> str:
        return (f"<Autoscaler {self.service} {self.policy.describe()} "
                f"[{self.min_replicas}, {self.max_replicas}] every {self.period_s:g} s>")

    # ------------------------------------------------------------------ one step
    def step(self) -> Decision:
        """Observe, decide, scale (or hold) once; the decision is returned and recorded."""
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        t_s = now - self._t0
        spec = self.g.services.get(self.service)
        if spec is None:
            proposal = Proposal(None, f"service {self.service!r} is not declared any more")
            decision = self._decide(t_s, now, 0, proposal)
        else:
            obs = observe(self.g, spec, t_s, self.window_s)
            proposal = self.policy.propose(obs)
            decision = self._decide(t_s, now, spec.replicas, proposal, obs)
            if decision.action == "scale":
                self.g.services.scale(self.service, decision.replicas_to)
                self._last_change = now
        self._record(decision)
        return decision

    def _decide(self, t_s: float, now: float, current: int, proposal: Proposal,
                obs: Observation | None = None) -> Decision:
        inputs = dict(proposal.inputs)
        if obs is not None:
            inputs.update({"replicas": obs.replicas, "ready": obs.ready})
        left = (self._last_change + self.cooldown_s - now
                if self._last_change is not None else 0.0)
        to, action, reason = settle(proposal, current, self.min_replicas, self.max_replicas,
                                    left)
        return Decision(t_s=t_s, ts_ns=time.time_ns(), service=self.service,
                        policy=self.policy.describe(), action=action, replicas_from=current,
                        replicas_to=to, desired=proposal.desired, metric=self.policy.metric,
                        observed=proposal.observed, target=proposal.target, reason=reason,
                        inputs=inputs)

    def _record(self, decision: Decision) -> None:
        self.decisions.append(decision)
        last = self._last_logged
        if decision.action == "scale" or last is None or decision._key() != last._key():
            try:
                self._events.append(EventKind.AUTOSCALE, self.service, decision.event_data(),
                                    ts_ns=decision.ts_ns)
                self._last_logged = decision
            except BusError as e:
                log.warning("autoscaler %s: cannot record a decision: %s", self.service, e)
        if self._on_decision is not None:
            self._on_decision(decision)

    # ------------------------------------------------------------------ the loop
    def run(self, stop: threading.Event | None = None) -> None:
        """Step every ``period_s`` (monotonic schedule) until ``stop`` (or :meth:`stop`) is set;
        a failing step (Redis away, a refused scale) is logged and the loop goes on."""
        stop = stop or self._stop
        with bus.stop_guard(stop, self.g.redis, what=f"autoscaler {self.service}"):
            self._loop(stop)

    def _loop(self, stop: threading.Event) -> None:
        next_at = self._clock()
        while not stop.is_set() and not self._stop.is_set():
            try:
                self.step()
            except GalileoError as e:
                log.warning("autoscaler %s: step failed: %s", self.service, e)
            next_at = max(next_at + self.period_s, self._clock())  # late: no burst to catch up
            stop.wait(max(0.0, next_at - self._clock()))

    def start(self) -> Autoscaler:
        """Run the loop in a background thread; returns self (``a = Autoscaler(...).start()``)."""
        if self._thread is not None:
            raise GalileoError(f"the autoscaler of {self.service!r} runs already.")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"autoscale-{self.service}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the loop (the current step finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def settle(proposal: Proposal, current: int, min_replicas: int, max_replicas: int,
           cooldown_left_s: float) -> tuple[int, str, str]:
    """The replicas to have, ``"scale"`` or ``"hold"``, and the reason: a missing metric holds;
    else the proposal clamped to ``[min, max]``, held while the cooldown lasts."""
    if proposal.desired is None:
        return current, "hold", f"metric missing: {proposal.reason}; holding {current}"
    reason = proposal.reason
    wanted = min(max(proposal.desired, min_replicas), max_replicas)
    if wanted != proposal.desired:
        reason += f"; {proposal.desired} clamped to {wanted} (min {min_replicas}, max " \
                  f"{max_replicas})"
    if wanted == current:
        return current, "hold", reason
    if cooldown_left_s > 0:
        return current, "hold", f"{reason}; cooldown: {cooldown_left_s:.1f} s left, holding " \
                                f"{current}"
    return wanted, "scale", reason


def check_bounds(min_replicas: int, max_replicas: int, period_s: float,
                 cooldown_s: float) -> None:
    """One sentence for bounds that make no sense."""
    for what, value in (("min", min_replicas), ("max", max_replicas)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"autoscaler {what} replicas must be an integer >= 0, got "
                              f"{value!r}.")
    if min_replicas > max_replicas:
        raise ConfigError(f"autoscaler min replicas ({min_replicas}) is above max "
                          f"({max_replicas}).")
    if max_replicas < 1:
        raise ConfigError("autoscaler max replicas must be at least 1.")
    if not (isinstance(period_s, int | float) and math.isfinite(period_s) and period_s > 0):
        raise ConfigError(f"autoscaler period must be a number of seconds > 0, got "
                          f"{period_s!r}.")
    if not (isinstance(cooldown_s, int | float) and math.isfinite(cooldown_s)
            and cooldown_s >= 0):
        raise ConfigError(f"autoscaler cooldown must be a number of seconds >= 0, got "
                          f"{cooldown_s!r}.")
