"""The bus protocol: every Redis key, channel and stream name, and every message schema.

This is the only module that spells a Redis key. Keys are built by :class:`Keys`, which carries
the namespace (default ``galileo``) so several deployments -- or parallel test runs -- can share
one Redis. Names that enter a key are validated first (:func:`check_name`).

Messages are ``msgspec`` structs, tagged by ``type`` and encoded as msgpack. Decode at the edge
with :func:`decode_command` / :func:`decode_reply`: a malformed message raises
``msgspec.DecodeError``/``ValidationError`` which daemons log and skip.

Transport rules (see ARCHITECTURE.md): pub/sub for control (may drop), Streams with consumer
groups for data (traces, stats, events), lists for replies (a controller ``BLPOP``s them).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Final, Literal

import msgspec

from galileo.errors import ValidationError

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- timing defaults
HEARTBEAT_INTERVAL_S: Final = 1.0
WORKER_TTL_S: Final = 3  # a worker that stops heartbeating disappears after this
RTBL_POLL_INTERVAL_S: Final = 1.0  # fallback poll when a pub/sub update was dropped
REPLY_TTL_S: Final = 60
STATS_STREAM_MAXLEN: Final = 20_000
TRACE_BATCH_MAX: Final = 500  # traces per stream entry
TRACE_FLUSH_INTERVAL_S: Final = 0.1

# --------------------------------------------------------------------------- names
# No ``:`` (the key separator: ``group("x:stats")`` would be ``group_stats("x")``), no spaces.
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_NAME_RE: Final = re.compile(NAME_PATTERN)
_reported_bad: set[tuple[str, str]] = set()  # (where, member) already logged once


def check_name(kind: str, value: str) -> str:
    """Validate a name (worker, service, group, experiment id) before it enters a key."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValidationError(
            f"invalid {kind} {value!r}: use 1-128 letters, digits or _ . - "
            "(starting with a letter or digit)"
        )
    return value


def valid_members(members: Iterable[bytes | str], kind: str, where: str) -> list[str]:
    """The members of a Redis set (read at ``where``) that are valid ``kind`` names, sorted; a
    bad one is logged once per process and skipped, never fatal."""
    out = []
    for m in members:
        name = m.decode(errors="replace") if isinstance(m, bytes) else str(m)
        try:
            out.append(check_name(kind, name))
        except ValidationError as e:
            if (where, name) not in _reported_bad:
                _reported_bad.add((where, name))
                log.warning("skipping a bad member of %s: %s", where, e)
    return sorted(out)


def new_experiment_id(now_s: float | None = None) -> str:
    """A fresh experiment id like ``202405171342-k3x9`` (local-time minute + 4 random chars)."""
    stamp = time.strftime("%Y%m%d%H%M", time.localtime(time.time() if now_s is None else now_s))
    return stamp + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))


_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_id() -> str:
    """A cluster-unique id (request ids, group ids, correlation ids)."""
    return uuid.uuid4().hex


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
        """Stream of :class:`TraceBatch` entries (field ``b``)."""
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


# --------------------------------------------------------------------------- request specs
class RequestSpec(msgspec.Struct, kw_only=True, frozen=True):
    """What a client sends. Either a fixed request or a user ``generator`` (``module:callable``
    returning an object with ``next_request() -> RequestSpec | dict``)."""

    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = {}
    body: bytes | None = None
    json: Any = None
    generator: str | None = None
    generator_args: dict[str, Any] = {}


class ArrivalKind(StrEnum):
    CONSTANT = "constant"
    POISSON = "poisson"
    DISTRIBUTION = "distribution"  # any ``random.Random`` method by name, e.g. ``lognormvariate``
    TRACE = "trace"  # prerecorded inter-arrival times, replayed (scaled by rate if given)


class ArrivalSpec(msgspec.Struct, kw_only=True, frozen=True):
    kind: ArrivalKind = ArrivalKind.CONSTANT
    distribution: str | None = None
    params: list[float] = []
    intervals_s: list[float] = []
    limit: int | None = None  # stop after this many requests (per group)
    seed: int | None = None


# --------------------------------------------------------------------------- commands
class Ping(msgspec.Struct, tag="ping", kw_only=True):
    corr: str
    sent_ns: int


class SpawnGroup(msgspec.Struct, tag="spawn", kw_only=True):
    corr: str
    gid: str
    service: str
    clients: list[str]  # client ids hosted on this worker
    request: RequestSpec
    arrival: ArrivalSpec
    rps: float = 0.0  # this worker's share of the group rate
    max_inflight: int = 1000  # per worker, for this group
    timeout_s: float = 10.0
    exp_id: str | None = None  # tag this group's traces; None: the cluster's current experiment


class SetRate(msgspec.Struct, tag="rps", kw_only=True):
    corr: str
    gid: str
    rps: float  # this worker's share
    ramp_s: float = 0.0
    sent_ns: int = 0


class Pause(msgspec.Struct, tag="pause", kw_only=True):
    corr: str
    gid: str


class Resume(msgspec.Struct, tag="resume", kw_only=True):
    corr: str
    gid: str


class Burst(msgspec.Struct, tag="request", kw_only=True):
    """Send ``n`` requests (this worker's share), then reply with the count done."""

    corr: str
    gid: str
    n: int


class CloseGroup(msgspec.Struct, tag="close", kw_only=True):
    corr: str
    gid: str


Command = Ping | SpawnGroup | SetRate | Pause | Resume | Burst | CloseGroup


class Reply(msgspec.Struct, kw_only=True):
    corr: str
    worker: str
    ok: bool = True
    error: str | None = None
    applied_ns: int = 0  # wall clock when the command took effect
    data: dict[str, Any] = {}


# --------------------------------------------------------------------------- registry
class WorkerInfo(msgspec.Struct, kw_only=True):
    name: str
    host: str
    pid: int
    processes: int
    labels: dict[str, str] = {}
    started_ns: int = 0
    heartbeat_ns: int = 0
    clients: int = 0  # clients hosted now (for least-loaded placement)
    groups: int = 0
    version: str = ""


class WorkerLossPolicy(StrEnum):
    """What a client group does when one of its workers dies: ``replace`` moves the lost
    share of the rate to the remaining workers; ``degrade`` runs on at the reduced rate."""

    REPLACE = "replace"
    DEGRADE = "degrade"


class GroupInfo(msgspec.Struct, kw_only=True):
    gid: str
    service: str
    placement: dict[str, list[str]]  # worker -> client ids
    request: RequestSpec
    arrival: ArrivalSpec
    rps: float = 0.0
    paused: bool = False
    created_ns: int = 0
    exp_id: str | None = None
    on_worker_loss: WorkerLossPolicy = WorkerLossPolicy.REPLACE
    lost: dict[str, list[str]] = {}  # worker -> client ids it hosted, for workers lost


# --------------------------------------------------------------------------- routing
_HOSTPORT_RE: Final = re.compile(r"^(https?://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$|^https?://[A-Za-z0-9_.\-\[\]]+$")


class RoutingRecord(msgspec.Struct, kw_only=True, frozen=True):
    """Which hosts serve a service and with what (non-negative, not all zero) weights."""

    service: str
    hosts: list[str]
    weights: list[float]
    version: int = 0

    def validate(self) -> RoutingRecord:
        """Raise ``ValidationError`` (one sentence) when the record is not usable."""
        check_name("service", self.service)
        if not self.hosts:
            raise ValidationError(f"routing record for {self.service!r} has no hosts")
        if len(self.hosts) != len(self.weights):
            raise ValidationError(
                f"routing record for {self.service!r} has {len(self.hosts)} hosts but "
                f"{len(self.weights)} weights"
            )
        for h in self.hosts:
            if not isinstance(h, str) or not _HOSTPORT_RE.match(h) or not _port_ok(h):
                raise ValidationError(
                    f"routing record for {self.service!r}: bad host {h!r} (expected host:port)"
                )
        for w in self.weights:
            if not isinstance(w, int | float) or w != w or w < 0 or w == float("inf"):
                raise ValidationError(
                    f"routing record for {self.service!r}: weight {w!r} must be a finite "
                    "number >= 0"
                )
        if not any(w > 0 for w in self.weights):
            raise ValidationError(f"routing record for {self.service!r}: all weights are zero")
        return self


def _port_ok(host: str) -> bool:
    tail = host.rsplit(":", 1)[-1]
    return not tail.isdigit() or 0 < int(tail) < 65536


# --------------------------------------------------------------------------- data
class TraceStatus(StrEnum):
    """Named error classes recorded when there is no HTTP status."""

    OK = ""
    TIMEOUT = "timeout"
    CONNECT = "connect"
    NO_ROUTE = "no_route"
    PROTOCOL = "protocol"  # malformed response
    CLOSED = "closed"  # connection closed mid-request
    CANCELLED = "cancelled"  # group closed before the response
    ERROR = "error"  # anything else (message in the worker log)


class Trace(msgspec.Struct, kw_only=True, array_like=True):
    """One request. Times are wall-clock unix nanoseconds (monotonic-derived, one anchor per
    process). ``status`` is the HTTP code, 0 when there was none; ``error`` names why."""

    request_id: str
    exp_id: str | None
    group_id: str
    client_id: str
    worker: str
    service: str
    host: str
    method: str
    path: str
    intended_ns: int
    sent_ns: int
    done_ns: int
    status: int
    error: str = ""
    bytes_received: int = 0


OK_STATUS_MIN: Final = 200  # a request succeeded: no error and OK_STATUS_MIN <= status < _END
OK_STATUS_END: Final = 400


def request_failed(status: Any, error: Any) -> Any:
    """THE definition of a failed request: an error was recorded, or the HTTP status is not
    2xx/3xx (0 = no response). Written with ``|`` so the same expression works on one trace
    (``bool``), on pandas/numpy columns (a mask) and on SQLAlchemy columns (a SQL clause)."""
    return (error != "") | (status < OK_STATUS_MIN) | (status >= OK_STATUS_END)


class TraceBatch(msgspec.Struct, kw_only=True, array_like=True):
    worker: str
    traces: list[Trace]


class GroupStats(msgspec.Struct, kw_only=True, array_like=True):
    """One worker's view of one group during one wall-clock second."""

    gid: str
    worker: str
    second: int  # unix seconds
    target_rps: float
    sent: int
    done: int
    errors: int
    late: int  # requests sent > 1 ms after intended, or held back by the in-flight bound
    inflight: int
    hist_intended: bytes  # HdrHistogram (encoded), latency from intended send time, µs
    hist_actual: bytes  # HdrHistogram (encoded), latency from actual send time, µs


class EventKind(StrEnum):
    EXPERIMENT_START = "experiment_start"
    EXPERIMENT_STOP = "experiment_stop"
    ROUTING_SET = "routing_set"
    ROUTING_REMOVE = "routing_remove"
    GROUP_SPAWN = "group_spawn"
    GROUP_RATE = "group_rate"
    GROUP_CLOSE = "group_close"
    TRACING = "tracing"
    WORKER_LOST = "worker_lost"
    WORKER_REREGISTERED = "worker_reregistered"  # a worker re-created its state in an empty Redis
    GROUP_REPLACED = "group_replaced"  # a lost worker's share moved to the remaining ones
    GROUP_DEGRADED = "group_degraded"  # a group lost a worker and runs on without its share
    GROUP_REJOINED = "group_rejoined"  # a lost worker came back: share closed or taken back
    STATE_RESTORED = "state_restored"  # routing/experiment/tracing re-applied after empty Redis
    EXPERIMENT_STAGE = "experiment_stage"  # a scenario stage / script line began
    THRESHOLD = "threshold"  # a threshold verdict at the end of a scenario
    LB_START = "lb_start"  # a balancer was started by an experiment (name, port, policy)
    LB_STOP = "lb_stop"
    LB_POLICY = "lb_policy"  # a balancer's policy was switched (name, policy)


class Event(msgspec.Struct, kw_only=True):
    kind: EventKind
    ts_ns: int
    exp_id: str | None = None
    name: str = ""  # experiment name, service, group id, … depending on kind
    data: dict[str, Any] = {}
    # chosen by the producer (:func:`new_event`): an XADD retried after a lost reply may have
    # written the event twice, and the recorder stores one event per id ("" in older entries)
    id: str = ""


EVENT_ID_LEN: Final = 64


def new_event(kind: EventKind, *, exp_id: str | None = None, name: str = "",
              data: dict[str, Any] | None = None, ts_ns: int | None = None) -> Event:
    """An event stamped now (or ``ts_ns``) with a fresh id."""
    return Event(kind=kind, ts_ns=time.time_ns() if ts_ns is None else ts_ns, exp_id=exp_id,
                 name=name, data=data or {}, id=new_id())


# --------------------------------------------------------------------------- codecs
_encoder: Final = msgspec.msgpack.Encoder()
_command_decoder: Final = msgspec.msgpack.Decoder(Command)
_reply_decoder: Final = msgspec.msgpack.Decoder(Reply)
_batch_decoder: Final = msgspec.msgpack.Decoder(TraceBatch)
_stats_decoder: Final = msgspec.msgpack.Decoder(GroupStats)
_event_decoder: Final = msgspec.msgpack.Decoder(Event)
_worker_decoder: Final = msgspec.msgpack.Decoder(WorkerInfo)
_group_decoder: Final = msgspec.msgpack.Decoder(GroupInfo)
_record_decoder: Final = msgspec.msgpack.Decoder(RoutingRecord)

encode = _encoder.encode
decode_command = _command_decoder.decode
decode_reply = _reply_decoder.decode
decode_trace_batch = _batch_decoder.decode
decode_group_stats = _stats_decoder.decode
decode_event = _event_decoder.decode
decode_worker_info = _worker_decoder.decode
decode_group_info = _group_decoder.decode
decode_routing_record = _record_decoder.decode

TraceField: Final = b"b"
EventField: Final = b"e"
StatsField: Final = b"s"

RateUnit = Literal["rps"]


# --------------------------------------------------------------------------- telemetry
TELEMETRY_PERIOD_S: Final = 1.0  # default sampling period of every instrument
TELEMETRY_STREAM_MAXLEN: Final = 200_000  # safety bound (entries) when no recorder drains it
TelemetryField: Final = b"t"
TELEMD_AGENT: Final = "galileo"  # value of the ``agent`` field in ``telemd.info:<node>``


class TelemetryCommand(StrEnum):
    """Words accepted on ``telemcmd/<node>`` (seed: ``pause``/``unpause``; ``info`` re-publishes
    the node info). A Galileo agent acknowledges ``<word> <corr>`` on ``Keys.reply(corr)``."""

    PAUSE = "pause"
    UNPAUSE = "unpause"
    INFO = "info"


class TelemetrySample(msgspec.Struct, kw_only=True, array_like=True):
    """One value of one metric on one node.

    ``ts_ns`` is the wall-clock unix time in nanoseconds at the END of the measurement window
    (µs-exact on the seed topics). Rates and percentages (cpu, rx/tx, read/write, psi, cgroup
    cpu) cover the window ``[ts_ns - window_ns, ts_ns)``; consecutive windows of one series
    abut exactly and never overlap. Gauges (ram, load, procs, freq) have ``window_ns == 0``.
    Units are in the metric name's documentation (``galileo.telemetry.instruments``)."""

    node: str
    metric: str
    subsystem: str  # "" for the node-wide value; core, interface, device, cgroup, service, …
    ts_ns: int
    value: float
    window_ns: int = 0


class TelemetryBatch(msgspec.Struct, kw_only=True, array_like=True):
    """The samples one agent took in one tick, with the experiment running then (if any)."""

    node: str
    exp_id: str | None
    samples: list[TelemetrySample]


_telemetry_decoder: Final = msgspec.msgpack.Decoder(TelemetryBatch)
decode_telemetry_batch = _telemetry_decoder.decode


def format_telem_payload(ts_ns: int, value: float) -> str:
    """Seed payload ``"<unix_ts> <value>"`` with the timestamp exact to the microsecond (the
    fraction is zero-padded to six digits; the Go telemd dropped leading zeros)."""
    sec, rest = divmod(int(ts_ns), 1_000_000_000)
    return f"{sec}.{rest // 1000:06d} {float(value)!r}"


def parse_telem_payload(payload: str | bytes) -> tuple[int, float]:
    """``"<unix_ts> <value>"`` → (unix ns, value); decimal-exact, no float rounding of the
    timestamp. Raises ``ValueError`` for anything else."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    ts, value = text.split()
    whole, _, frac = ts.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"bad timestamp {ts!r}")
    ts_ns = int(whole) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)
    return ts_ns, float(value)


def parse_telem_topic(topic: str | bytes) -> tuple[str, str, str]:
    """``telem/<node>/<metric>[/<subsystem>]`` → (node, metric, subsystem); ``ValueError`` else.
    A subsystem may itself contain ``/`` (e.g. a cgroup path)."""
    text = topic.decode() if isinstance(topic, bytes) else topic
    parts = text.split("/", 3)
    if len(parts) < 3 or parts[0] != "telem" or not parts[1] or not parts[2]:
        raise ValueError(f"not a telem topic: {text!r}")
    return parts[1], parts[2], parts[3] if len(parts) == 4 else ""


# --------------------------------------------------------------------------- load balancer
class LbTrace(msgspec.Struct, kw_only=True, array_like=True):
    """One request proxied by ``galileo lb``. Wall-clock unix nanoseconds: ``received_ns`` when
    its head was read, ``upstream_sent_ns``/``upstream_done_ns`` when the request went to the
    chosen backend and its response ended, ``done_ns`` when the response was written back.
    Upstream time = ``upstream_done_ns - upstream_sent_ns``; proxy overhead = the rest of
    ``done_ns - received_ns``. ``request_id`` is the client's ``X-Request-Id`` when it sent one.
    ``status`` is the status the client got (0: none); ``error`` a ``TraceStatus`` value."""

    request_id: str
    exp_id: str | None
    lb: str  # balancer name
    service: str
    backend: str  # host:port chosen last ("" when none was)
    policy: str
    method: str
    path: str
    received_ns: int
    upstream_sent_ns: int
    upstream_done_ns: int
    done_ns: int
    status: int
    error: str = ""
    attempts: int = 1  # backends tried (a connect failure moves on to another)


class LbTraceBatch(msgspec.Struct, kw_only=True, array_like=True):
    lb: str
    traces: list[LbTrace]


class LbCommand(msgspec.Struct, kw_only=True):
    """Switch the policy of balancer ``lb`` (``*``: every balancer of the namespace)."""

    lb: str
    policy: str
    corr: str = ""


_lb_batch_decoder: Final = msgspec.msgpack.Decoder(LbTraceBatch)
_lb_command_decoder: Final = msgspec.msgpack.Decoder(LbCommand)
decode_lb_trace_batch = _lb_batch_decoder.decode
decode_lb_command = _lb_command_decoder.decode
