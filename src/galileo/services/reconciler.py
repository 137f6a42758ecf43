"""The reconciler: keeps every declared service's instances = its replicas, and its routing
record = its ready instances.

One round (:meth:`Reconciler.tick`) reads the whole state (:func:`read_view`) and:

1. **adopts** instances an agent reports but no assignment lists (Redis came back empty: the
   agents kept them running), up to the service's replicas;
2. **retires** assignments (``stop``): of services no longer declared, on nodes that are gone
   (heartbeat expired: host lost, agent killed), of instances that ``failed`` or were
   ``refused`` (that node is then avoided for the service for ``AVOID_S``), and the extra ones
   after a scale-down (not-ready first, then the newest); an assignment whose agent reports it
   ``stopped`` (or whose node is gone) is deleted;
3. **places** the missing instances on feasible nodes with the service's placement policy
   (``choose_many``: a batch scheduler plans them together; each pick is re-checked for
   feasibility before it is placed), each decision an ``instance_place`` event with its reason;
4. **routes**: the service's routing record becomes its ready instances (equal weights, or the
   instance's CPU share), written only when it changed; removed when none is ready. Only
   declared services' records are touched.

It runs wherever the watchdog runs (``galileo recorder``, ``runner``, ``api``), one active per
namespace (lock ``services:reconciler``), woken by ``services:changes`` and every
``INTERVAL_S``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Final

from galileo import bus
from galileo.bus import Bus
from galileo.errors import BusError, ConfigError, GalileoError
from galileo.protocol import (
    INSTANCE_PORT_BASE,
    EventKind,
    InstanceSpec,
    InstanceState,
    InstanceStatus,
    Keys,
    ServiceSpec,
    encode,
    new_event,
    new_id,
)
from galileo.routing import RoutingTable
from galileo.services.constraints import CAPACITY_EPS, fits_size, matches
from galileo.services.placement import NodeView, Placement, load_placement
from galileo.services.view import ClusterView, read_view
from galileo.settings import Settings

__all__ = ["Reconciler", "start_in_thread"]

log = logging.getLogger(__name__)

INTERVAL_S: Final = 0.5
MIN_GAP_S: Final = 0.02
LOCK_TTL_MS: Final = 3000
AVOID_S: Final = 30.0
NODE_GONE_AFTER_S: Final = 0.5  # a node key missing this long (after its TTL) = node gone
_GONE_STATES: Final = (InstanceState.FAILED, InstanceState.REFUSED, InstanceState.STOPPED)


class Reconciler:
    """See the module doc. ``tick()`` is one round; ``run(stop)`` loops."""

    def __init__(self, client: Bus, keys: Keys, policy_modules: Sequence[str] = (),
                 name: str | None = None) -> None:
        self._r = client
        self.keys = keys
        self.policy_modules = tuple(policy_modules)
        self.name = name or new_id()
        self.rtbl = RoutingTable(client, keys)
        self._avoid: dict[tuple[str, str], float] = {}  # (service, node) -> until (monotonic)
        self._pending: dict[str, str] = {}  # service -> why it cannot place (logged once)
        self._policies: dict[str, Placement] = {}
        self.placed = 0
        self._missing_since: dict[str, float] = {}  # node -> when its key was first missing

    # ------------------------------------------------------------------ one round
    def tick(self) -> None:
        view = read_view(self._r, self.keys)
        now = time.monotonic()
        gone = self._gone_nodes(view, now)
        self._avoid = {k: t for k, t in self._avoid.items() if t > now}
        writes: list[tuple[str, str, InstanceSpec | None]] = []  # (node, id, spec or delete)
        events = []
        self._adopt(view, writes)
        active: dict[str, list[tuple[str, InstanceSpec]]] = {s: [] for s in view.desired}
        for node, assigned in view.assigned.items():
            reports = view.reports.get(node, {})
            alive = node not in gone
            for iid, inst in assigned.items():
                report = reports.get(iid)
                if inst.stop:  # kept while the node is away: its agent stops it on return
                    if node in view.nodes and (
                            report is None or report.state == InstanceState.STOPPED):
                        writes.append((node, iid, None))
                    continue
                why = self._retire_reason(inst, report, alive, view)
                if why:
                    writes.append((node, iid, _stopping(inst)))
                    if report is not None and report.state in (InstanceState.FAILED,
                                                               InstanceState.REFUSED):
                        self._avoid[(inst.service, node)] = now + AVOID_S
                    events.append(new_event(EventKind.INSTANCE_STATE, name=inst.service, data={
                        "instance": iid, "node": node, "state": "retired", "reason": why}))
                    continue
                active[inst.service].append((node, inst))
        for spec in view.desired.values():
            self._scale(spec, active[spec.name], view, writes, events)
        self._write(writes, events)
        self._route(view, active, gone)

    def _gone_nodes(self, view: ClusterView, now: float) -> set[str]:
        """Known nodes whose key has been missing for ``NODE_GONE_AFTER_S`` (one late
        heartbeat on a loaded machine does not move every instance)."""
        missing = set(view.known_nodes) - set(view.nodes)
        for node in list(self._missing_since):
            if node not in missing:
                del self._missing_since[node]
        gone = set()
        for node in missing:
            since = self._missing_since.setdefault(node, now)
            if now - since >= NODE_GONE_AFTER_S:
                gone.add(node)
        return gone

    def _retire_reason(self, inst: InstanceSpec, report: InstanceStatus | None, alive: bool,
                       view: ClusterView) -> str:
        if inst.service not in view.desired:
            return "service removed"
        if not alive:
            return "node gone (no heartbeat)"
        if report is not None and report.state in (InstanceState.FAILED,
                                                   InstanceState.REFUSED):
            return f"{report.state.value}: {report.reason}"
        return ""

    def _adopt(self, view: ClusterView, writes: list[tuple[str, str, InstanceSpec | None]]) -> None:
        """Reported but unassigned instances of declared services get their assignment back."""
        counts: dict[str, int] = {}
        for assigned in view.assigned.values():
            for inst in assigned.values():
                if not inst.stop:
                    counts[inst.service] = counts.get(inst.service, 0) + 1
        for node in view.nodes:
            assigned = view.assigned.setdefault(node, {})
            for iid, report in view.reports.get(node, {}).items():
                spec = view.desired.get(report.service)
                if (iid in assigned or spec is None or report.state in _GONE_STATES
                        or counts.get(spec.name, 0) >= spec.replicas):
                    continue
                inst = InstanceSpec(id=iid, service=spec.name, kind=spec.kind, what=spec.what,
                                    args=spec.args, port=report.port, cpus=report.cpus,
                                    memory=report.memory, health=spec.health,
                                    placed_ns=time.time_ns(), reason="adopted after restart")
                assigned[iid] = inst
                writes.append((node, iid, inst))
                counts[spec.name] = counts.get(spec.name, 0) + 1
                log.info("adopted instance %s of %s on %s", iid, spec.name, node)

    # ------------------------------------------------------------------ scaling
    def _scale(self, spec: ServiceSpec, active: list[tuple[str, InstanceSpec]],
               view: ClusterView, writes: list[tuple[str, str, InstanceSpec | None]],
               events: list) -> None:  # type: ignore[type-arg]
        if self._roll(spec, active, view, writes, events):
            return
        missing = spec.replicas - len(active)
        if missing < 0:
            def rank(item: tuple[str, InstanceSpec]) -> tuple[bool, int]:
                node, inst = item
                return (self._ready(view, node, inst), -inst.placed_ns)

            for node, inst in sorted(active, key=rank)[:-missing]:
                self._retire(spec, node, inst, active, writes, events,
                             f"scaled down to {spec.replicas}")
            return
        if missing == 0:
            self._pending.pop(spec.name, None)
            return
        if self._place(spec, missing, view, writes, events) == missing:
            self._pending.pop(spec.name, None)

    def _place(self, spec: ServiceSpec, missing: int, view: ClusterView,
               writes: list[tuple[str, str, InstanceSpec | None]], events: list,  # type: ignore[type-arg]
               why: str = "", quiet: bool = False) -> int:
        """Place ``missing`` new instances of ``spec``; returns how many were placed. ``why``
        prefixes each placement's reason; ``quiet``: no pending event when none fits."""
        def pending(text: str) -> None:
            if not quiet:
                self._note_pending(spec.name, text, events)

        try:
            policy = self._policy(spec.placement)
        except ConfigError as e:
            pending(str(e))
            return 0
        nodes = self._node_views(spec, view)
        plan: list[tuple[NodeView, str]] = []  # the policy's picks not yet placed
        placed = 0
        while missing > 0:
            feasible = [n for n in nodes.values() if self._feasible(spec, n, view)]
            if not feasible:
                pending(f"{missing} instance(s) wait: no feasible node "
                        f"(live: {', '.join(sorted(view.nodes)) or 'none'})")
                return placed
            fresh = not plan
            if fresh:
                try:
                    plan = list(policy.choose_many(spec, feasible, missing,
                                                   list(nodes.values())))[:missing]
                except ConfigError as e:
                    pending(str(e))
                    return placed
            if not plan or plan[0][0].name not in {n.name for n in feasible}:
                if fresh:  # a policy must pick among the feasible nodes it was given
                    pending(f"placement {spec.placement!r} chose no feasible node")
                    return placed
                plan = []  # an earlier pick took the room: plan the rest again
                continue
            chosen, reason = plan.pop(0)
            chosen = nodes[chosen.name]
            inst = InstanceSpec(id=f"{spec.name}-{new_id()[:8]}", service=spec.name,
                                kind=spec.kind, what=spec.what, args=spec.args,
                                port=spec.port or _free_port(chosen.info.ports, _ports_in_use(
                                    view, chosen.name)),
                                cpus=spec.cpus, memory=spec.memory, health=spec.health,
                                placed_ns=time.time_ns(), reason=why + reason)
            view.assigned.setdefault(chosen.name, {})[inst.id] = inst
            chosen.cpus_allocated += spec.cpus
            chosen.memory_allocated += spec.memory
            chosen.of_service += 1
            chosen.instances += 1
            chosen.services[spec.name] = chosen.services.get(spec.name, 0) + 1
            writes.append((chosen.name, inst.id, inst))
            missing -= 1
            placed += 1
            self.placed += 1
            events.append(new_event(EventKind.INSTANCE_PLACE, name=spec.name, data={
                "instance": inst.id, "node": chosen.name,
                "endpoint": f"{chosen.info.host}:{inst.port}",
                "policy": spec.placement, "reason": why + reason}))
        return placed

    def _retire(self, spec: ServiceSpec, node: str, inst: InstanceSpec,
                active: list[tuple[str, InstanceSpec]],
                writes: list[tuple[str, str, InstanceSpec | None]], events: list,  # type: ignore[type-arg]
                reason: str) -> None:
        active.remove((node, inst))  # not routed to from this round on
        writes.append((node, inst.id, _stopping(inst)))
        events.append(new_event(EventKind.INSTANCE_STATE, name=spec.name, data={
            "instance": inst.id, "node": node, "state": "retired", "reason": reason}))

    @staticmethod
    def _ready(view: ClusterView, node: str, inst: InstanceSpec) -> bool:
        report = view.reports.get(node, {}).get(inst.id)
        return report is not None and report.state == InstanceState.READY

    # ------------------------------------------------------------------ rolling update
    def _roll(self, spec: ServiceSpec, active: list[tuple[str, InstanceSpec]],
              view: ClusterView, writes: list[tuple[str, str, InstanceSpec | None]],
              events: list) -> bool:  # type: ignore[type-arg]
        """Replace instances of an older spec one at a time: start a new one beside them →
        wait until it is ready and routed → retire an old one. Only when no node has room for
        the extra instance is an old one stopped first, and only while the ready ones stay
        ``>= replicas - max_unavailable``. True when this round belongs to the update."""
        old = [(n, i) for n, i in active if _outdated(i, spec)]
        if not old or spec.replicas == 0:
            return False
        new = [(n, i) for n, i in active if (n, i) not in old]
        step = f"rolling update to version {spec.version}: "
        if any(not self._ready(view, n, i) for n, i in new):
            return True  # one at a time: the new instance must be ready first
        if len(active) > spec.replicas:  # the new ones are ready: once routed, old ones go
            record = self.rtbl.get(spec.name)
            routed = set(record.hosts) if record else set()
            if any(_endpoint(view, n, i) not in routed for n, i in new):
                return True
            ranked = sorted(old, key=lambda x: (self._ready(view, *x), x[1].placed_ns))
            for node, inst in ranked[:len(active) - spec.replicas]:
                self._retire(spec, node, inst, active, writes, events,
                             step + "replaced by a new instance that is ready and routed")
            return True
        if len(active) < spec.replicas:
            return False  # missing ones are placed as usual (with the new spec)
        if self._place(spec, 1, view, writes, events, why=step, quiet=True):
            return True
        ready = sum(self._ready(view, n, i) for n, i in active)
        if ready - 1 < spec.replicas - spec.max_unavailable:
            self._note_pending(spec.name, step + "no room for a new instance beside the old "
                               f"ones and max_unavailable={spec.max_unavailable} allows no "
                               "stop first", events)
            return True
        node, inst = min(old, key=lambda x: (self._ready(view, *x), x[1].placed_ns))
        self._retire(spec, node, inst, active, writes, events,
                     step + "stopped first: no node has room for a new instance beside it")
        return True

    def _feasible(self, spec: ServiceSpec, node: NodeView, view: ClusterView) -> bool:
        info = node.info
        if (spec.name, info.name) in self._avoid or not matches(spec, info):
            return False
        if not fits_size(spec, info):
            return False
        if spec.cpus and node.cpus_allocated + spec.cpus > info.cpus + CAPACITY_EPS:
            return False
        if spec.memory and node.memory_allocated + spec.memory > info.memory:
            return False
        if spec.max_per_host and node.of_service >= spec.max_per_host:
            return False
        return not (spec.port and any(i.port == spec.port
                                      for i in view.assigned.get(info.name, {}).values()))

    def _node_views(self, spec: ServiceSpec, view: ClusterView) -> dict[str, NodeView]:
        out = {}
        for name, info in view.nodes.items():
            live = [i for i in view.assigned.get(name, {}).values() if not i.stop]
            services: dict[str, int] = {}
            for i in live:
                services[i.service] = services.get(i.service, 0) + 1
            out[name] = NodeView(info=info, cpus_allocated=sum(i.cpus for i in live),
                                 memory_allocated=sum(i.memory for i in live),
                                 of_service=services.get(spec.name, 0),
                                 instances=len(live), services=services, specs=view.desired)
        return out

    def _policy(self, spec: str) -> Placement:
        if spec not in self._policies:
            self._policies[spec] = load_placement(spec, self.policy_modules)
        return self._policies[spec]

    def _note_pending(self, service: str, why: str, events: list) -> None:  # type: ignore[type-arg]
        if self._pending.get(service) != why:
            self._pending[service] = why
            log.warning("service %s: %s", service, why)
            events.append(new_event(EventKind.INSTANCE_STATE, name=service,
                                    data={"state": "pending", "reason": why}))

    # ------------------------------------------------------------------ writing
    def _write(self, writes: list[tuple[str, str, InstanceSpec | None]], events: list) -> None:  # type: ignore[type-arg]
        if not writes and not events:
            return
        exp = self._r.get(self.keys.current_experiment)
        with self._r.pipeline(transaction=False) as pipe:
            for node, iid, inst in writes:
                if inst is None:
                    pipe.hdel(self.keys.node_assigned(node), iid)
                else:
                    pipe.hset(self.keys.node_assigned(node), iid, encode(inst))
            for event in events:
                if exp is not None:
                    event.exp_id = exp.decode() if isinstance(exp, bytes) else str(exp)
                pipe.xadd(self.keys.events, {b"e": encode(event)})
            if writes:
                pipe.publish(self.keys.services_changes, "reconciler")
            pipe.execute()

    def _route(self, view: ClusterView, active: dict[str, list[tuple[str, InstanceSpec]]],
               gone: set[str]) -> None:
        for name, spec in view.desired.items():
            ready = []
            for node, inst in active.get(name, []):
                report = view.reports.get(node, {}).get(inst.id)
                if node not in gone and report is not None and \
                        report.state == InstanceState.READY:
                    ready.append((report.endpoint, inst.cpus or 1.0))
            ready.sort()
            current = self.rtbl.get(name)
            if not ready:
                if current is not None:
                    self.rtbl.remove(name)
                continue
            hosts = [h for h, _ in ready]
            weights = [w if spec.weights == "cpu" else 1.0 for _, w in ready]
            if current is None or list(current.hosts) != hosts or \
                    list(current.weights) != weights:
                self.rtbl.set(name, hosts, weights)

    # ------------------------------------------------------------------ loop
    def hold_lock(self) -> bool:
        key = self.keys.services_lock
        if self._r.set(key, self.name, nx=True, px=LOCK_TTL_MS):
            return True
        holder = self._r.get(key)
        if holder is not None and (holder.decode() if isinstance(holder, bytes)
                                   else holder) == self.name:
            self._r.pexpire(key, LOCK_TTL_MS)
            return True
        return False

    def run(self, stop: threading.Event) -> None:
        """Reconcile until ``stop``: on every change hint and every ``INTERVAL_S``."""
        with bus.stop_guard(stop, self._r, what="services reconciler"):
            self._loop(stop)

    def _loop(self, stop: threading.Event) -> None:
        outage = bus.Outage(log, "services reconciler")
        pubsub = None
        while not stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self._r.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.keys.services_changes)
                if self.hold_lock():
                    self.tick()
                outage.ok()
                deadline = time.monotonic() + INTERVAL_S
                while not stop.is_set():  # drain hints; tick at once on a real one
                    msg = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                    if msg is not None and msg.get("data") not in (b"reconciler",):
                        stop.wait(MIN_GAP_S)
                        while pubsub.get_message(timeout=0) is not None:
                            pass
                        break
                    if time.monotonic() >= deadline:
                        break
            except BusError as e:
                outage.failed(e)
                pubsub = None
                stop.wait(INTERVAL_S)
            except GalileoError as e:
                log.warning("services reconciler: %s", e)
                stop.wait(INTERVAL_S)
            except Exception:  # never die: declared services rely on this loop
                log.exception("services reconciler round failed")
                stop.wait(INTERVAL_S)


def _outdated(inst: InstanceSpec, spec: ServiceSpec) -> bool:
    """True when ``inst`` runs something else than ``spec`` now declares."""
    return (inst.kind != spec.kind or inst.what != spec.what or inst.args != spec.args
            or abs(inst.cpus - spec.cpus) > CAPACITY_EPS or inst.memory != spec.memory
            or inst.health != spec.health or bool(spec.port and inst.port != spec.port))


def _endpoint(view: ClusterView, node: str, inst: InstanceSpec) -> str:
    report = view.reports.get(node, {}).get(inst.id)
    return report.endpoint if report is not None else ""


def _stopping(inst: InstanceSpec) -> InstanceSpec:
    import msgspec

    return msgspec.structs.replace(inst, stop=True)


def _ports_in_use(view: ClusterView, node: str) -> set[int]:
    """Ports of the node's assignments and of every instance its agent still reports."""
    used = {i.port for i in view.assigned.get(node, {}).values()}
    used |= {s.port for s in view.reports.get(node, {}).values()
             if s.state != InstanceState.STOPPED}
    return used


def _free_port(ports: list[int], used: set[int]) -> int:
    first = ports[0] if ports else INSTANCE_PORT_BASE
    port = first
    while port in used:
        port += 1
    return port


def start_in_thread(settings: Settings, stop: threading.Event) -> threading.Thread:
    """Run a :class:`Reconciler` in a daemon thread until ``stop`` is set."""
    client = bus.connect(settings, check=False)
    modules = [m for m in settings.services_policy_modules.split(",") if m.strip()]
    rec = Reconciler(client, Keys(settings.namespace), modules)

    def run() -> None:
        try:
            rec.run(stop)
        finally:
            client.close()

    thread = threading.Thread(target=run, name="galileo-services", daemon=True)
    thread.start()
    return thread
