"""``g.services``: declare, scale, inspect and remove services (the reconciler does the rest)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from galileo.bus import Bus
from galileo.errors import GalileoError, NotFoundError, ValidationError
from galileo.protocol import (
    EventKind,
    InstanceState,
    InstanceStatus,
    Keys,
    NodeInfo,
    ServiceSpec,
    encode,
    new_event,
)
from galileo.routing import RoutingTable
from galileo.services.constraints import check_deployable
from galileo.services.placement import load_placement
from galileo.services.spec import service_spec
from galileo.services.view import read_view

__all__ = ["Services"]


class Services:
    """Declared services of one namespace. Writes are checked against the live nodes first:
    a service no node could ever hold is refused with one sentence and nothing is written."""

    def __init__(self, client: Bus, keys: Keys, policy_modules: Sequence[str] = ()) -> None:
        self._r = client
        self._keys = keys
        self._policy_modules = tuple(policy_modules)
        self._rtbl = RoutingTable(client, keys)

    # ------------------------------------------------------------------ writes
    def apply(self, spec: ServiceSpec) -> ServiceSpec:
        """Declare ``spec`` (create or replace); returns it with its new version."""
        spec = self._prepared(spec)  # unknown policy or an app it cannot place: one line
        check_deployable(spec, self.nodes())
        old = self.get(spec.name)
        spec = msgspec.structs.replace(spec, version=(old.version if old else 0) + 1)
        self._write(spec, EventKind.SERVICE_APPLY)
        return spec

    def apply_all(self, specs: Sequence[ServiceSpec]) -> list[ServiceSpec]:
        """Check every spec first, then declare them all (nothing half-deployed)."""
        nodes = self.nodes()
        for spec in specs:
            check_deployable(self._prepared(spec), nodes)
        return [self.apply(spec) for spec in specs]

    def _prepared(self, spec: ServiceSpec) -> ServiceSpec:
        """``spec`` checked by its placement policy, with the placement text it stores (e.g. a
        lab policy's table path made absolute)."""
        policy = load_placement(spec.placement, self._policy_modules)
        placement = policy.prepare(spec)
        return spec if placement == spec.placement else msgspec.structs.replace(
            spec, placement=placement)

    def run(self, name: str, **options: Any) -> ServiceSpec:
        """``g.services.run("kv", app="kv", replicas=3, cpus=0.5)``."""
        return self.apply(service_spec(name, **options))

    def scale(self, name: str, replicas: int) -> ServiceSpec:
        spec = self._require(name)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise ValidationError(f"replicas must be an integer >= 0, got {replicas!r}.")
        return self.apply(msgspec.structs.replace(spec, replicas=replicas))

    def remove(self, name: str) -> None:
        """Undeclare ``name``: its instances are stopped and its routing record removed."""
        self._require(name)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(self._keys.services_desired, name)
            pipe.xadd(self._keys.events, {b"e": encode(self._event(
                EventKind.SERVICE_REMOVE, name, {}))})
            pipe.publish(self._keys.services_changes, name)
            pipe.execute()
        if name in self._rtbl:
            self._rtbl.remove(name)

    def _write(self, spec: ServiceSpec, kind: EventKind) -> None:
        data = msgspec.to_builtins(spec)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._keys.services_desired, spec.name, encode(spec))
            pipe.xadd(self._keys.events, {b"e": encode(self._event(kind, spec.name, data))})
            pipe.publish(self._keys.services_changes, spec.name)
            pipe.execute()

    def _event(self, kind: EventKind, name: str, data: dict[str, Any]) -> Any:
        exp = self._r.get(self._keys.current_experiment)
        return new_event(kind, name=name, data=data,
                         exp_id=exp.decode() if isinstance(exp, bytes) else None)

    # ------------------------------------------------------------------ reads
    def get(self, name: str) -> ServiceSpec | None:
        return read_view(self._r, self._keys, with_instances=False).desired.get(name)

    def declared(self) -> list[ServiceSpec]:
        view = read_view(self._r, self._keys, with_instances=False)
        return [view.desired[n] for n in sorted(view.desired)]

    def nodes(self) -> list[NodeInfo]:
        """Live node agents, by name."""
        view = read_view(self._r, self._keys, with_instances=False)
        return [view.nodes[n] for n in sorted(view.nodes)]

    def instances(self, name: str | None = None) -> list[InstanceStatus]:
        """What the agents report (for ``name`` only when given)."""
        return read_view(self._r, self._keys).instances(name)

    def ready(self, name: str) -> list[str]:
        return [s.endpoint for s in self.instances(name) if s.state == InstanceState.READY]

    def wait(self, name: str, timeout_s: float = 30.0, replicas: int | None = None) -> list[str]:
        """Block until ``replicas`` (default: the declared number) instances are ready *and*
        routed; returns their endpoints. GalileoError on timeout, naming what is missing."""
        spec = self._require(name)
        want = spec.replicas if replicas is None else replicas
        deadline = time.monotonic() + timeout_s
        while True:
            ready = self.ready(name)
            record = self._rtbl.get(name)
            routed = sorted(record.hosts) if record else []
            if len(ready) == want and (want == 0 or routed == sorted(ready)):
                return ready
            if time.monotonic() >= deadline:
                states = ", ".join(f"{s.endpoint} {s.state.value}"
                                   + (f" ({s.reason})" if s.reason else "")
                                   for s in self.instances(name)) or "no instances"
                raise GalileoError(f"service {name!r}: {len(ready)} of {want} instances ready "
                                   f"after {timeout_s:g} s ({states}).")
            time.sleep(0.05)

    def _require(self, name: str) -> ServiceSpec:
        spec = self.get(name)
        if spec is None:
            known = ", ".join(s.name for s in self.declared()) or "none"
            raise NotFoundError(f"no service {name!r} is declared (declared: {known}).")
        return spec
