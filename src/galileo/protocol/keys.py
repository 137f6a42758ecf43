"""Every Redis key, channel and stream name: the only place one is spelled."""

from __future__ import annotations

import logging
from typing import Final

from galileo.protocol.names import check_name

log = logging.getLogger(__name__)

class Keys:
    """Builds every Redis key/channel/stream name for one namespace."""

    def __init__(self, namespace: str = "galileo") -> None:
        self.ns = namespace

    # workers -------------------------------------------------------------
    @property
    def workers(self) -> str:
        """Set of registered worker names (a member without a live info key is dead)."""
        return f"{self.ns}:workers"

    def worker(self, name: str) -> str:
        """Hash with a worker's :class:`WorkerInfo` fields; expires after ``WORKER_TTL_S``."""
        return f"{self.ns}:worker:{check_name('worker', name)}"

    def worker_commands(self, name: str) -> str:
        """Pub/sub channel carrying :class:`Command` messages to one worker."""
        return f"{self.ns}:worker:{check_name('worker', name)}:cmd"

    def reply(self, corr: str) -> str:
        """List a worker ``LPUSH``es its :class:`Reply` to; the caller ``BLPOP``s it."""
        return f"{self.ns}:reply:{check_name('correlation id', corr)}"

    # client groups -------------------------------------------------------
    @property
    def groups(self) -> str:
        """Set of live group ids."""
        return f"{self.ns}:groups"

    def group(self, gid: str) -> str:
        """Hash describing a group (:class:`GroupInfo` encoded under field ``info``)."""
        return f"{self.ns}:group:{check_name('group', gid)}"

    def group_stats(self, gid: str) -> str:
        """Stream of per-second :class:`GroupStats` entries from every hosting worker."""
        return f"{self.ns}:group:{check_name('group', gid)}:stats"

    # routing table -------------------------------------------------------
    @property
    def rtbl_services(self) -> str:
        """Set of services that have a routing record."""
        return f"{self.ns}:rtbl:services"

    def rtbl(self, service: str) -> str:
        """String holding the encoded :class:`RoutingRecord` of a service."""
        return f"{self.ns}:rtbl:svc:{check_name('service', service)}"

    @property
    def rtbl_updates(self) -> str:
        """Pub/sub channel; message = service name whose record changed (or ``*`` for clear)."""
        return f"{self.ns}:rtbl:updates"

    # services and node agents (see ``galileo.protocol.services``) ----------
    @property
    def services_desired(self) -> str:
        """Hash: service name → encoded :class:`ServiceSpec` (the declared services)."""
        return f"{self.ns}:services:desired"

    @property
    def services_changes(self) -> str:
        """Pub/sub channel: a node or service name whose instances changed (a hint)."""
        return f"{self.ns}:services:changes"

    @property
    def services_lock(self) -> str:
        """String held (with a TTL) by the one active reconciler of this namespace."""
        return f"{self.ns}:services:reconciler"

    @property
    def nodes(self) -> str:
        """Set of node agent names (a member without a live ``node`` key is gone)."""
        return f"{self.ns}:nodes"

    def node(self, name: str) -> str:
        """String: a node agent's encoded :class:`NodeInfo`; expires after ``NODE_TTL_S``."""
        return f"{self.ns}:node:{check_name('node', name)}"

    def node_assigned(self, name: str) -> str:
        """Hash: instance id → encoded :class:`InstanceSpec` the node should run (or stop)."""
        return f"{self.ns}:node:{check_name('node', name)}:assigned"

    def node_instances(self, name: str) -> str:
        """Hash: instance id → encoded :class:`InstanceStatus`, written by the node's agent."""
        return f"{self.ns}:node:{check_name('node', name)}:instances"

    # experiments, tracing ------------------------------------------------
    @property
    def current_experiment(self) -> str:
        """String: the id of the running experiment (absent when none)."""
        return f"{self.ns}:exp:current"

    @property
    def tracing(self) -> str:
        """String ``on``/``off``: whether workers record traces (absent = on)."""
        return f"{self.ns}:tracing"

    @property
    def epoch(self) -> str:
        """String set once per Redis lifetime by the state keeper (``galileo recorder``); its
        absence means Redis came back empty and the namespace's state must be restored."""
        return f"{self.ns}:epoch"

    @property
    def watchdog_lock(self) -> str:
        """String held (with a TTL) by the one active watchdog of this namespace."""
        return f"{self.ns}:watchdog"

    @property
    def control_events(self) -> str:
        """Pub/sub channel for cluster-wide changes (experiment, tracing): a hint to re-read."""
        return f"{self.ns}:control"

    @property
    def traces(self) -> str:
        """Stream of trace batches (field ``b``: columns, or rows from an older worker; see
        :mod:`galileo.protocol.trace_wire`)."""
        return f"{self.ns}:traces"

    # load balancer (``galileo lb``) ---------------------------------------
    @property
    def lb_traces(self) -> str:
        """Stream of :class:`LbTraceBatch` entries (field ``b``) from every balancer process."""
        return f"{self.ns}:lb:traces"

    @property
    def lb_commands(self) -> str:
        """Pub/sub channel carrying :class:`LbCommand` messages to every balancer process."""
        return f"{self.ns}:lb:cmd"

    def lb_policy(self, name: str) -> str:
        """String: the policy spec balancer ``name`` uses (set with :class:`LbCommand`), so a
        process that starts or restarts later takes it too."""
        return f"{self.ns}:lb:{check_name('balancer', name)}:policy"

    def dashboard_session(self, sid: str) -> str:
        """String with an expiry: one dashboard login (the cookie holds ``sid``, never the
        API token)."""
        return f"{self.ns}:dashboard:session:{check_name('session', sid)}"

    @property
    def events(self) -> str:
        """Stream of :class:`Event` entries (field ``e``): experiment start/stop, routing, …"""
        return f"{self.ns}:events"

    # telemetry (see the telemetry section at the end of this module) ------
    @property
    def telemetry(self) -> str:
        """Stream of :class:`TelemetryBatch` entries (field ``t``) from every telemetry agent."""
        return f"{self.ns}:telemetry"

    @property
    def telemd_nodes(self) -> str:
        """Set of node names whose telemetry this namespace records (agents and seed telemd)."""
        return f"{self.ns}:telemd:nodes"

    @staticmethod
    def telemd_info(node: str) -> str:
        """Hash of a node's info (arch, boot, hostname, ram, cpus, disk, net).

        Seed-compatible name, deliberately WITHOUT the namespace prefix: the Go telemd writes
        ``telemd.info:<node>`` and existing consumers read it there."""
        return f"telemd.info:{check_name('node', node)}"

    @staticmethod
    def telemd_commands(node: str) -> str:
        """Seed control topic (no namespace): ``pause``, ``unpause``, ``info`` [+ `` <corr>``]."""
        return f"telemcmd/{check_name('node', node)}"

    @staticmethod
    def telem_topic(node: str, metric: str, subsystem: str = "") -> str:
        """Seed pub/sub topic ``telem/<node>/<metric>[/<subsystem>]`` (no namespace); the
        payload is ``"<unix_ts> <value>"`` (:func:`format_telem_payload`)."""
        topic = f"telem/{node}/{metric}"
        return f"{topic}/{subsystem}" if subsystem else topic

    TELEM_PATTERN: Final = "telem/*"

    RECORDER_GROUP: Final = "recorder"

    # experiment jobs (runners, see ``galileo.experiments``) -----------------
    SEED_INSTRUCTIONS: Final = "galileo:experiments:instructions"
    """Seed list (deliberately WITHOUT the namespace, as in the seed README): ``LPUSH`` a JSON
    ``{"instructions": "...", "exp_id"?, "creator"?, "name"?}``; ``galileo bridge`` pops it."""

    @property
    def job_queue(self) -> str:
        """Celery queue (broker-side name) that experiment tasks of this namespace go to."""
        return f"{self.ns}.experiments"

    @property
    def jobs_running(self) -> str:
        """Hash: experiment id → runner name, for every experiment a runner is executing."""
        return f"{self.ns}:jobs:running"

    def job_heartbeat(self, exp_id: str) -> str:
        """String refreshed by the runner executing ``exp_id``; expires when that runner dies."""
        return f"{self.ns}:job:{check_name('experiment id', exp_id)}:heartbeat"

    def job_cancel(self, exp_id: str) -> str:
        """String set to request a cooperative stop of a running experiment."""
        return f"{self.ns}:job:{check_name('experiment id', exp_id)}:cancel"

    def job_groups(self, exp_id: str) -> str:
        """Set of the client group ids an experiment spawned (closed if its runner dies)."""
        return f"{self.ns}:job:{check_name('experiment id', exp_id)}:groups"

    def service_lease(self, service: str) -> str:
        """String (an experiment id, with a TTL its runner refreshes): the experiment that uses
        ``service`` now; another one that needs it waits (see docs/experiments.md)."""
        return f"{self.ns}:lease:service:{check_name('service', service)}"
