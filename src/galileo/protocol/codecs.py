"""msgpack encoding and the decoders used at the edge (malformed input raises)."""

from __future__ import annotations

import logging
from typing import Final, Literal

import msgspec

from galileo.protocol.commands import Command, Reply
from galileo.protocol.records import Event, GroupStats
from galileo.protocol.registry import GroupInfo, RoutingRecord, WorkerInfo

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- codecs
_encoder: Final = msgspec.msgpack.Encoder()
_command_decoder: Final = msgspec.msgpack.Decoder(Command)
_reply_decoder: Final = msgspec.msgpack.Decoder(Reply)
_stats_decoder: Final = msgspec.msgpack.Decoder(GroupStats)
_event_decoder: Final = msgspec.msgpack.Decoder(Event)
_worker_decoder: Final = msgspec.msgpack.Decoder(WorkerInfo)
_group_decoder: Final = msgspec.msgpack.Decoder(GroupInfo)
_record_decoder: Final = msgspec.msgpack.Decoder(RoutingRecord)

encode = _encoder.encode
decode_command = _command_decoder.decode
decode_reply = _reply_decoder.decode
decode_group_stats = _stats_decoder.decode
decode_event = _event_decoder.decode
decode_worker_info = _worker_decoder.decode
decode_group_info = _group_decoder.decode
decode_routing_record = _record_decoder.decode

TraceField: Final = b"b"
EventField: Final = b"e"
StatsField: Final = b"s"

RateUnit = Literal["rps"]
