"""Telemetry samples, commands and Galileo 0.x's telemd payloads."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Final

import msgspec

log = logging.getLogger(__name__)

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
