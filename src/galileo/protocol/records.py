"""Data records on the Streams: traces, per-second group stats, events."""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import Any, Final

import msgspec

from galileo.protocol.names import new_id

log = logging.getLogger(__name__)

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


def request_unsent(error: Any, sent_ns: Any, done_ns: Any) -> Any:
    """THE definition of a request that failed *before it was sent* (no route, held back and
    cancelled at close, a request source error): the worker records it with ``done == sent``
    and one of those error names. Every other request left the worker ("sent"). Works on one
    trace, numpy columns and SQLAlchemy columns, like :func:`request_failed`."""
    kinds = ((error == TraceStatus.NO_ROUTE.value) | (error == TraceStatus.CANCELLED.value)
             | (error == TraceStatus.ERROR.value))
    return kinds & (done_ns == sent_ns)


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
    GROUP_PAUSE = "group_pause"  # sending stopped by pause() (the target is 0 until resume)
    GROUP_RESUME = "group_resume"
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
    # trace backlog limits (galileo.worker.traces, galileo.recorder.backlog)
    TRACE_BACKLOG_FULL = "trace_backlog_full"  # the traces stream is at its cap: worker holds
    TRACE_SPILL = "trace_spill"  # a worker's local backlog outgrew memory: spilling to disk
    TRACES_DROPPED = "traces_dropped"  # memory and spill file full: traces lost (counted)
    RECORDER_BACKLOG = "recorder_backlog"  # the recorder falls behind (entries, oldest age)
    RECORDER_CAUGHT_UP = "recorder_caught_up"  # its backlog is back under the thresholds
    SERVICE_APPLY = "service_apply"  # a service was declared or changed (name, spec)
    SERVICE_REMOVE = "service_remove"
    INSTANCE_PLACE = "instance_place"  # the reconciler placed an instance (node, policy, reason)
    INSTANCE_STATE = "instance_state"  # an instance started, became ready, failed, stopped …
    INSTANCE_REFUSED = "instance_refused"  # a node agent refused an instance (reason)
    # an autoscaler's decision (scale or hold): service, policy, replicas_from, replicas_to,
    # metric, observed, target, inputs, reason (galileo.autoscaling)
    AUTOSCALE = "autoscale"


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
