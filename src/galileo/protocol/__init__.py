"""The bus protocol: every Redis key, channel and stream name, and every message schema.

One package, split by subject behind these public names (``from galileo.protocol import Keys``):
``names`` (timing defaults, name checks, ids), ``keys`` (the only place a Redis key is spelled:
:class:`Keys` carries the namespace, default ``galileo``, so several deployments -- or parallel
test runs -- can share one Redis), ``commands`` (controller → worker), ``registry`` (workers,
groups, routing records), ``records`` (traces, stats, events), ``codecs``, ``telemetry``, ``lb``.
Names that enter a key are validated first (:func:`check_name`).

Messages are ``msgspec`` structs, tagged by ``type`` and encoded as msgpack. Decode at the edge
with :func:`decode_command` / :func:`decode_reply`: a malformed message raises
``msgspec.DecodeError``/``ValidationError`` which daemons log and skip.

Transport rules (see docs/architecture.md): pub/sub for control (may drop), Streams with consumer
groups for data (traces, stats, events), lists for replies (a controller ``BLPOP``s them).
"""

from __future__ import annotations

from galileo.protocol.codecs import (
    EventField,
    RateUnit,
    StatsField,
    TraceField,
    decode_command,
    decode_event,
    decode_group_info,
    decode_group_stats,
    decode_reply,
    decode_routing_record,
    decode_trace_batch,
    decode_worker_info,
    encode,
)
from galileo.protocol.commands import (
    ArrivalKind,
    ArrivalSpec,
    Burst,
    CloseGroup,
    Command,
    Pause,
    Ping,
    Reply,
    RequestSpec,
    Resume,
    SetRate,
    SpawnGroup,
)
from galileo.protocol.keys import (
    Keys,
)
from galileo.protocol.lb import (
    LbCommand,
    LbTrace,
    LbTraceBatch,
    decode_lb_command,
    decode_lb_trace_batch,
)
from galileo.protocol.names import (
    HEARTBEAT_INTERVAL_S,
    NAME_PATTERN,
    REPLY_TTL_S,
    RTBL_POLL_INTERVAL_S,
    STATS_STREAM_MAXLEN,
    TRACE_BATCH_MAX,
    TRACE_FLUSH_INTERVAL_S,
    WORKER_TTL_S,
    check_name,
    new_experiment_id,
    new_id,
    valid_members,
)
from galileo.protocol.records import (
    EVENT_ID_LEN,
    OK_STATUS_END,
    OK_STATUS_MIN,
    Event,
    EventKind,
    GroupStats,
    Trace,
    TraceBatch,
    TraceStatus,
    new_event,
    request_failed,
    request_unsent,
)
from galileo.protocol.registry import (
    GroupInfo,
    RoutingRecord,
    WorkerInfo,
    WorkerLossPolicy,
)
from galileo.protocol.telemetry import (
    TELEMD_AGENT,
    TELEMETRY_PERIOD_S,
    TELEMETRY_STREAM_MAXLEN,
    TelemetryBatch,
    TelemetryCommand,
    TelemetryField,
    TelemetrySample,
    decode_telemetry_batch,
    format_telem_payload,
    parse_telem_payload,
    parse_telem_topic,
)

__all__ = [
    "EVENT_ID_LEN",
    "HEARTBEAT_INTERVAL_S",
    "NAME_PATTERN",
    "OK_STATUS_END",
    "OK_STATUS_MIN",
    "REPLY_TTL_S",
    "RTBL_POLL_INTERVAL_S",
    "STATS_STREAM_MAXLEN",
    "TELEMD_AGENT",
    "TELEMETRY_PERIOD_S",
    "TELEMETRY_STREAM_MAXLEN",
    "TRACE_BATCH_MAX",
    "TRACE_FLUSH_INTERVAL_S",
    "WORKER_TTL_S",
    "ArrivalKind",
    "ArrivalSpec",
    "Burst",
    "CloseGroup",
    "Command",
    "Event",
    "EventField",
    "EventKind",
    "GroupInfo",
    "GroupStats",
    "Keys",
    "LbCommand",
    "LbTrace",
    "LbTraceBatch",
    "Pause",
    "Ping",
    "RateUnit",
    "Reply",
    "RequestSpec",
    "Resume",
    "RoutingRecord",
    "SetRate",
    "SpawnGroup",
    "StatsField",
    "TelemetryBatch",
    "TelemetryCommand",
    "TelemetryField",
    "TelemetrySample",
    "Trace",
    "TraceBatch",
    "TraceField",
    "TraceStatus",
    "WorkerInfo",
    "WorkerLossPolicy",
    "check_name",
    "decode_command",
    "decode_event",
    "decode_group_info",
    "decode_group_stats",
    "decode_lb_command",
    "decode_lb_trace_batch",
    "decode_reply",
    "decode_routing_record",
    "decode_telemetry_batch",
    "decode_trace_batch",
    "decode_worker_info",
    "encode",
    "format_telem_payload",
    "new_event",
    "new_experiment_id",
    "new_id",
    "parse_telem_payload",
    "parse_telem_topic",
    "request_failed",
    "request_unsent",
    "valid_members",
]
