"""Load-balancer traces and commands."""

from __future__ import annotations

import logging
from typing import Final

import msgspec

log = logging.getLogger(__name__)

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
