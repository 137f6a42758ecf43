"""The node agent (``galileo node``): runs the service instances the reconciler assigns to this
node, each in its own child cgroup of the node's cgroup, and reports on them.

It reads its assignments (``Keys.node_assigned``) -- woken by ``services:changes`` and every
``POLL_S`` anyway -- and never anything else: an assignment names an entry of the host's
allow-list (:mod:`galileo.services.allow`), so a bus message cannot make it run ``sh -c …``.
An instance that is not allowed or does not fit the node's free capacity is refused with a
reason (state ``refused`` and an ``instance_refused`` event). Instances it runs but that are
not assigned (Redis came back empty) are kept until the reconciler has had ``ORPHAN_GRACE_S`` to
adopt them. Every ``NODE_HEARTBEAT_S`` a thread refreshes its node key (with a TTL); every
``REPORT_S`` it writes its :class:`~galileo.protocol.NodeInfo` (capacity, allocation, use,
allow-list), all its instance reports (each with the cores it used over the last window,
``cpu_used``, which the autoscalers read), and each instance's CPU and memory as telemetry
(``svc_cpu``/``svc_memory``, subsystem ``service@node:port``).

Idle cost (issue 17, goal ≤ 1 % of a core): a change (an instance started, ready, exited) is
written and hinted on ``services:changes`` at once; the periodic report is not hinted (the
reconciler reads every ``INTERVAL_S`` anyway), so idle agents do not wake each other and the
reconciler every second. Exits are seen by a ``poll()`` every ``POLL_S``; health probes are a
bare HTTP/1.0 request (:func:`~galileo.services.instances.probe`).

It is a role of its own rather than part of the worker: the worker's send schedule must not
share a process with health checks and process management, and an agent that dies is then a
fault of its own (its instances are replaced elsewhere) that leaves the load generators alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec
import psutil

from galileo import bus
from galileo.errors import BusError, ConfigError
from galileo.protocol import (
    INSTANCE_PORT_BASE,
    NODE_HEARTBEAT_S,
    NODE_TTL_S,
    EventKind,
    InstanceSpec,
    InstanceState,
    InstanceStatus,
    Keys,
    NodeInfo,
    TelemetryBatch,
    TelemetryField,
    TelemetrySample,
    decode_instance_spec,
    encode,
    new_event,
)
from galileo.protocol.records import Event
from galileo.services.allow import AllowList, Refused
from galileo.services.instances import Instance
from galileo.settings import Settings
from galileo.testbed.cgroups import Cgroups, Resources, detect

__all__ = ["NodeAgent"]

log = logging.getLogger(__name__)

POLL_S: Final = 0.2  # an instance's exit is noticed within this (failure detection)
READ_S: Final = 2.0  # assignments are re-read this often without a hint
REPORT_S: Final = 2.0  # reports, node info and telemetry go out this often (and on changes)
LIVENESS_S: Final = NODE_HEARTBEAT_S  # the node key is refreshed this often (lives NODE_TTL_S)
ORPHAN_GRACE_S: Final = 5.0
TELEMETRY_MAXLEN: Final = 200_000
CAPACITY_EPS: Final = 1e-6
INSTANCE_PREFIX: Final = "i-"


class NodeAgent:
    """One node's agent; :meth:`run` until ``stop`` is set (see the module doc)."""

    def __init__(self, settings: Settings, *, name: str | None = None,
                 allow: AllowList | None = None, cgroup: str = "",
                 cpus: float | None = None, memory: int | None = None,
                 labels: Mapping[str, str] | None = None, address: str = "",
                 ports: tuple[int, int] | None = None) -> None:
        self.settings = settings
        self.name = name or settings.worker_name
        self.keys = Keys(settings.namespace)
        self.keys.node(self.name)  # validates the name
        self.allow = allow or AllowList.build()
        self.labels = dict(labels if labels is not None else settings.labels)
        self.log_dir = Path(settings.data_dir).resolve() / "node" / self.name
        try:
            self.cgroups: Cgroups | None = detect()
        except ConfigError as e:
            log.warning("node %s: %s; instances run without CPU/memory limits", self.name, e)
            self.cgroups = None
        self.cgroup = cgroup or f"galileo/node-{self.name}"
        limits = (self.cgroups.limits(self.cgroup) if self.cgroups and cgroup
                  else Resources())
        self.cpus = cpus or limits.cpus or float(os.cpu_count() or 1)
        self.memory = memory or limits.memory or int(psutil.virtual_memory().total)
        self.address = address
        self.ports = list(ports or (INSTANCE_PORT_BASE, INSTANCE_PORT_BASE + 899))
        self.instances: dict[str, Instance] = {}
        self.done: dict[str, InstanceStatus] = {}  # refused or stopped, until unassigned
        self._unassigned_since: dict[str, float] = {}
        self._assigned: dict[str, InstanceSpec] | None = None
        self._epoch = False
        self._prev_use: dict[str, tuple[int, float]] = {}
        self._cpu_now: dict[str, float] = {}  # instance id -> cores used over the last window
        self._host_use: tuple[float, float] | None = None
        self.cpu_used = 0.0
        self._r = bus.connect(settings, check=False)
        self._outage = bus.Outage(log, f"node agent {self.name}")

    # ------------------------------------------------------------------ run
    def run(self, stop: threading.Event) -> None:
        self._clean_leftovers()
        with contextlib.suppress(BusError):  # "ready" (the log line) once the node is visible
            self.heartbeat()
        log.info("node agent %s: %g CPU, %d MB, apps %s, %d command(s), image prefixes %s",
                 self.name, self.cpus, self.memory >> 20, ",".join(self.allow.apps),
                 len(self.allow.commands), ",".join(self.allow.image_prefixes) or "none")
        self._info = encode(self._node_info())
        beat = threading.Thread(target=self._liveness, args=(stop,), daemon=True,
                                name="galileo-node-liveness")
        beat.start()
        with bus.stop_guard(stop, self._r, what=f"node agent {self.name}"):
            self._loop(stop)

    def _loop(self, stop: threading.Event) -> None:
        pubsub = None
        next_beat = next_read = 0.0
        try:
            while not stop.is_set():
                try:
                    if pubsub is None:
                        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
                        pubsub.subscribe(self.keys.services_changes)
                    msg = pubsub.get_message(timeout=POLL_S)
                    now = time.monotonic()
                    read = (msg is not None and msg.get("data") in (b"reconciler", b"*")) \
                        or now >= next_read
                    if read:
                        next_read = now + READ_S
                    changed = self.sync(read)
                    if now >= next_beat:
                        next_beat = now + REPORT_S
                        self.heartbeat(hint=changed)
                    elif changed:  # the node's allocation with the hint, not 2 s later
                        self._info = encode(self._node_info())
                        with self._r.pipeline(transaction=False) as pipe:
                            pipe.set(self.keys.node(self.name), self._info, ex=NODE_TTL_S)
                            pipe.publish(self.keys.services_changes, self.name)
                            pipe.execute()
                    self._outage.ok()
                except BusError as e:
                    self._outage.failed(e)
                    pubsub = None
                    self._step_instances([])  # keep restarting what runs, reports later
                    stop.wait(POLL_S)
        finally:
            self.shutdown()

    def sync(self, read: bool = True) -> bool:
        """One round: assignments in (re-read when ``read``: on the reconciler's hint and every
        ``READ_S``), instances stepped, changed reports out."""
        if read or self._assigned is None:
            raw = self._r.hgetall(self.keys.node_assigned(self.name))
            fresh: dict[str, InstanceSpec] = {}
            for value in raw.values():
                try:
                    spec = decode_instance_spec(value)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
                fresh[spec.id] = spec
            self._assigned = fresh
            self._epoch = self._r.get(self.keys.epoch) is not None
        assigned = self._assigned
        events: list[Event] = []
        changed: list[str] = []
        for spec in assigned.values():  # every instance to stop gets its SIGTERM first
            if spec.stop and spec.id in self.instances:
                self.instances[spec.id].terminate()
        # stops before starts: a rolling update that stops an old instance first (no room
        # beside it) has its new one admitted into the room the old one leaves
        for spec in sorted(assigned.values(), key=lambda s: not s.stop):
            inst = self.instances.get(spec.id)
            if spec.stop:
                if inst is not None:
                    inst.stop()
                    del self.instances[spec.id]
                    self.done[spec.id] = inst.status()
                    events.append(self._event(EventKind.INSTANCE_STATE, inst.status()))
                    changed.append(spec.id)
                elif spec.id not in self.done:
                    self.done[spec.id] = _stopped(spec, self.name, self.address)
                    changed.append(spec.id)
            elif inst is None and spec.id not in self.done:
                status = self._admit(spec)
                changed.append(spec.id)
                if status.state == InstanceState.REFUSED:
                    self.done[spec.id] = status
                    events.append(self._event(EventKind.INSTANCE_REFUSED, status))
                else:
                    events.append(self._event(EventKind.INSTANCE_STATE, status))
        now = time.monotonic()
        epoch = self._epoch
        for iid in list(self.instances):
            if iid in assigned:
                self._unassigned_since.pop(iid, None)
                continue
            since = self._unassigned_since.setdefault(iid, now)
            if epoch and now - since > ORPHAN_GRACE_S:  # nobody adopted it: not ours to run
                inst = self.instances.pop(iid)
                inst.stop()
                self._unassigned_since.pop(iid, None)
                changed.append(iid)
        for iid in list(self.done):
            if iid not in assigned:
                del self.done[iid]
                self._r.hdel(self.keys.node_instances(self.name), iid)
        for iid in self._step_instances(events):
            changed.append(iid)
        if changed:
            self._write_reports(changed)
        if events:
            with self._r.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.xadd(self.keys.events, {b"e": encode(event)})
                pipe.execute()
        return bool(changed)

    def _step_instances(self, events: list[Event]) -> list[str]:
        now = time.monotonic()
        out = []
        for inst in self.instances.values():
            if inst.step(now):
                out.append(inst.spec.id)
                events.append(self._event(EventKind.INSTANCE_STATE, inst.status()))
        return out

    # ------------------------------------------------------------------ admission
    def _admit(self, spec: InstanceSpec) -> InstanceStatus:
        cgroup = f"{self.cgroup}/{INSTANCE_PREFIX}{spec.id}"
        try:
            argv = self.allow.argv(spec, cgroup_parent=f"/{cgroup}" if self.cgroups else "")
            self._check_fits(spec)
            if (spec.cpus or spec.memory) and self.cgroups is None and spec.kind != "image":
                raise Refused("this host has no usable cgroups to apply CPU/memory limits.")
        except Refused as e:
            log.warning("node %s refused instance %s of %s: %s", self.name, spec.id,
                        spec.service, e)
            return InstanceStatus(id=spec.id, service=spec.service, node=self.name,
                                  address=self.address,
                                  port=spec.port, state=InstanceState.REFUSED, reason=str(e),
                                  cpus=spec.cpus, memory=spec.memory, since_ns=time.time_ns())
        inst = Instance(spec, self.name, argv, self.log_dir, self.cgroups, cgroup, self.address)
        self.instances[spec.id] = inst
        try:
            inst.start()
        except (OSError, ConfigError) as e:
            inst.reason = f"cannot start: {e}"
            inst.state = InstanceState.FAILED
        return inst.status()

    def _check_fits(self, spec: InstanceSpec) -> None:
        cpus, memory = self.allocated()
        if spec.cpus and cpus + spec.cpus > self.cpus + CAPACITY_EPS:
            raise Refused(f"does not fit: needs {spec.cpus:g} CPU, {self.cpus - cpus:g} of "
                          f"{self.cpus:g} free on {self.name}.")
        if spec.memory and memory + spec.memory > self.memory:
            raise Refused(f"does not fit: needs {spec.memory >> 20} MB, "
                          f"{(self.memory - memory) >> 20} MB free on {self.name}.")

    def allocated(self) -> tuple[float, int]:
        live = [i for i in self.instances.values() if i.state != InstanceState.FAILED]
        return sum(i.spec.cpus for i in live), sum(i.spec.memory for i in live)

    # ------------------------------------------------------------------ reports
    def _write_reports(self, ids: list[str]) -> None:
        key = self.keys.node_instances(self.name)
        with self._r.pipeline(transaction=False) as pipe:
            for iid in ids:
                status = (self.instances[iid].status() if iid in self.instances
                          else self.done.get(iid))
                if status is None:
                    pipe.hdel(key, iid)
                else:
                    pipe.hset(key, iid, encode(status))
            pipe.execute()

    def _node_info(self) -> NodeInfo:
        cpus, memory = self.allocated()
        return NodeInfo(name=self.name, cpus=self.cpus, memory=self.memory,
                        cpus_allocated=cpus, memory_allocated=memory, cpu_used=self.cpu_used,
                        labels=self.labels, apps=self.allow.apps,
                        commands=sorted(self.allow.commands),
                        image_prefixes=self.allow.image_prefixes,
                        instances=len(self.instances), ts_ns=time.time_ns(),
                        address=self.address, ports=self.ports)

    def _liveness(self, stop: threading.Event) -> None:
        """The node key with its TTL, every ``LIVENESS_S`` from a thread of its own: a
        loop busy stopping instances must not make the node look lost."""
        while not stop.wait(LIVENESS_S):
            try:
                with self._r.pipeline(transaction=False) as pipe:
                    pipe.set(self.keys.node(self.name), self._info, ex=NODE_TTL_S)
                    pipe.sadd(self.keys.nodes, self.name)
                    pipe.execute()
            except BusError:
                continue  # the main loop reports the outage

    def heartbeat(self, hint: bool = True) -> None:
        """Node info with a TTL, every instance report, per-instance telemetry; with ``hint``,
        a ``services:changes`` hint (the periodic report has none: nothing changed)."""
        self._measure_host()
        info = self._node_info()
        self._info = encode(info)
        key = self.keys.node_instances(self.name)
        samples = self._instance_samples()  # first: the reports carry each one's CPU use
        reports = {iid: encode(msgspec.structs.replace(i.status(),
                                                       cpu_used=self._cpu_now.get(iid)))
                   for iid, i in self.instances.items()}
        reports.update({iid: encode(s) for iid, s in self.done.items()})
        known = set(reports)
        stale = [k for k in self._r.hkeys(key)
                 if (k.decode() if isinstance(k, bytes) else k) not in known]
        exp = self._r.get(self.keys.current_experiment)
        with self._r.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.node(self.name), encode(info), ex=NODE_TTL_S)
            pipe.sadd(self.keys.nodes, self.name)
            if reports:
                pipe.hset(key, mapping=reports)
            if stale:
                pipe.hdel(key, *stale)
            if samples:
                batch = TelemetryBatch(node=self.name, exp_id=exp.decode() if exp else None,
                                       samples=samples)
                pipe.xadd(self.keys.telemetry, {TelemetryField: encode(batch)},
                          maxlen=TELEMETRY_MAXLEN, approximate=True)
            if hint:
                pipe.publish(self.keys.services_changes, self.name)
            pipe.execute()

    def _measure_host(self) -> None:
        """Cores the node's cgroup used since the last heartbeat."""
        if self.cgroups is None:
            return
        usage = self.cgroups.usage(self.cgroup)
        now = time.monotonic()
        if usage.cpu_usec is None:
            return
        if self._host_use is not None and now > self._host_use[0]:
            self.cpu_used = ((usage.cpu_usec - self._host_use[1]) / 1e6
                             / (now - self._host_use[0]))
        self._host_use = (now, usage.cpu_usec)

    def _instance_samples(self) -> list[TelemetrySample]:
        """``svc_cpu`` (% of one core over the window) and ``svc_memory`` (bytes) per instance."""
        if self.cgroups is None:
            return []
        out = []
        now_ns = time.time_ns()
        for iid, inst in self.instances.items():
            if inst.state not in (InstanceState.STARTING, InstanceState.READY):
                continue
            usage = self.cgroups.usage(inst.cgroup)
            sub = f"{inst.spec.service}@{inst.status().endpoint}"
            if usage.memory is not None:
                out.append(TelemetrySample(node=self.name, metric="svc_memory", subsystem=sub,
                                           ts_ns=now_ns, value=float(usage.memory)))
            if usage.cpu_usec is None:
                continue
            before = self._prev_use.get(iid)
            self._prev_use[iid] = (now_ns, usage.cpu_usec)
            if before is not None and now_ns > before[0] and usage.cpu_usec >= before[1]:
                window = now_ns - before[0]
                self._cpu_now[iid] = (usage.cpu_usec - before[1]) * 1e3 / window
                out.append(TelemetrySample(
                    node=self.name, metric="svc_cpu", subsystem=sub, ts_ns=now_ns,
                    value=(usage.cpu_usec - before[1]) * 1e3 / window * 100.0, window_ns=window))
        for gone in set(self._prev_use) - set(self.instances):
            del self._prev_use[gone]
        for gone in set(self._cpu_now) - set(self.instances):
            del self._cpu_now[gone]
        return out

    def _event(self, kind: EventKind, status: InstanceStatus) -> Event:
        return new_event(kind, name=status.service, data={
            "instance": status.id, "node": self.name, "endpoint": status.endpoint,
            "state": status.state.value, "restarts": status.restarts,
            "exit_code": status.exit_code, "reason": status.reason,
            "log_tail": status.log_tail[-3:]})

    # ------------------------------------------------------------------ cleanup
    def _clean_leftovers(self) -> None:
        """Instances of an agent that died before this one: killed, their cgroups removed."""
        if self.cgroups is None:
            return
        for base in self.cgroups.dirs(self.cgroup).values():
            if base.is_dir():
                for d in base.iterdir():
                    if d.is_dir() and d.name.startswith(INSTANCE_PREFIX):
                        log.info("node %s: removing a leftover instance cgroup %s", self.name,
                                 d.name)
                        self.cgroups.remove(f"{self.cgroup}/{d.name}")
                        _remove_container(d.name.removeprefix(INSTANCE_PREFIX))
        if not self.cgroups.exists(self.cgroup):
            self.cgroups.create(self.cgroup, Resources())

    def shutdown(self) -> None:
        """Stop every instance; remove this node's reports and heartbeat (best effort)."""
        for inst in self.instances.values():
            inst.terminate()
        for inst in list(self.instances.values()):
            inst.stop()
        self.instances.clear()
        try:
            with self._r.pipeline(transaction=False) as pipe:
                pipe.delete(self.keys.node(self.name))
                pipe.delete(self.keys.node_instances(self.name))
                pipe.publish(self.keys.services_changes, self.name)
                pipe.execute()
        except BusError:
            pass
        self._r.close()


def _remove_container(instance_id: str) -> None:
    """The container of a leftover image instance (its ``podman run`` died with the agent)."""
    podman = shutil.which("podman")
    if podman is None:
        return
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run([podman, "rm", "--force", "--ignore", "--time", "2",
                        f"galileo-{instance_id}"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30, check=False)


def _stopped(spec: InstanceSpec, node: str, address: str) -> InstanceStatus:
    return InstanceStatus(id=spec.id, service=spec.service, node=node, port=spec.port,
                          address=address,
                          state=InstanceState.STOPPED, since_ns=time.time_ns())
