"""Telemetry in the recorder.

* :func:`decode_entry` — one ``Keys.telemetry`` stream entry → :class:`TelemetryBatch`.
* :class:`TelemetryWriter` — writes samples in the recorder's transaction, under the batch's
  experiment id or, when the agent did not know it, the experiment whose time window holds the
  sample; stores each node's ``telemd.info:<node>`` once per experiment (``nodeinfo``).
* :class:`TelemBridge` — takes samples of the real Go telemd from the seed topics
  ``telem/<node>/<metric>[/<subsystem>]`` (payload ``"<unix_ts> <value>"``) into the telemetry
  stream, so they are recorded losslessly from there on. Galileo agents (their info hash says
  ``agent=galileo``) are skipped: they write the stream themselves.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import defaultdict
from typing import Any, Final

from galileo import bus
from galileo.bus import Bus
from galileo.errors import BusError
from galileo.protocol import (
    TELEMD_AGENT,
    TELEMETRY_STREAM_MAXLEN,
    Keys,
    TelemetryBatch,
    TelemetryField,
    TelemetrySample,
    decode_telemetry_batch,
    encode,
    parse_telem_payload,
    parse_telem_topic,
    valid_members,
)
from galileo.settings import Settings
from galileo.storage import Transaction
from galileo.storage.telemetry import sample_problem

log = logging.getLogger(__name__)

TELEMETRY_KIND: Final = "telemetry"
BRIDGE_FLUSH_INTERVAL_S: Final = 0.5
BRIDGE_FLUSH_SAMPLES: Final = 500
AGENT_CHECK_INTERVAL_S: Final = 10.0


def decode_entry(fields: Any) -> TelemetryBatch:
    """The batch in a stream entry (``KeyError``/``msgspec`` errors when malformed)."""
    return decode_telemetry_batch(fields[TelemetryField])


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def window_experiment(ts_ns: int, windows: dict[str, list[int | None]]) -> str | None:
    """The experiment whose ``[start, end)`` holds ``ts_ns``, if any."""
    for exp_id, (start, end) in windows.items():
        if start is not None and start <= ts_ns and (end is None or ts_ns < end):
            return exp_id
    return None


class TelemetryWriter:
    """Writes telemetry batches and node info inside the recorder's transaction."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.dropped = 0  # samples that did not fit the schema

    def write(self, tx: Transaction, client: Bus, batches: list[TelemetryBatch],
              windows: dict[str, list[int | None]]) -> int:
        """Insert the samples (tagged with their experiment); returns the samples attempted."""
        pairs: list[tuple[str | None, TelemetrySample]] = []
        for batch in batches:
            for s in batch.samples:
                exp_id = batch.exp_id or window_experiment(s.ts_ns, windows)
                problem = sample_problem(exp_id, s)
                if problem is None:
                    pairs.append((exp_id, s))
                else:
                    self.dropped += 1
                    log.warning("dropping telemetry sample %s/%s of %s: %s", s.metric[:64],
                                s.subsystem[:64], s.node[:64], problem)
        written = tx.insert_telemetry(pairs)  # SQL, or InfluxDB for the mixed expdb
        for exp_id, node in sorted({(e, s.node) for e, s in pairs if e is not None}):
            self.record_node(tx, client, exp_id, node)
        return written

    def record_node(self, tx: Transaction, client: Bus, exp_id: str, node: str) -> None:
        """Store ``telemd.info:<node>`` under ``exp_id`` unless it is stored already."""
        with contextlib.suppress(Exception):  # a bad node name never blocks the batch
            raw: Any = client.hgetall(self.keys.telemd_info(node))
            info = {_text(k): _text(v) for k, v in (raw or {}).items()}
            tx.insert_nodeinfo(exp_id, node, info)

    def record_nodes(self, tx: Transaction, client: Bus, exp_id: str) -> None:
        """Store the info of every node of the namespace (at experiment start)."""
        nodes = client.smembers(self.keys.telemd_nodes)
        for node in valid_members(nodes, "node", self.keys.telemd_nodes):
            self.record_node(tx, client, exp_id, node)


class TelemBridge:
    """Seed pub/sub topics → telemetry stream. ``pump()`` once (tests) or ``start()`` a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.redis: Bus = bus.connect(settings)
        self._pubsub: Any = None
        self._buffer: dict[str, list[TelemetrySample]] = defaultdict(list)
        self._agents: dict[str, tuple[bool, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.forwarded = 0
        self.malformed = 0

    def subscribe(self) -> None:
        if self._pubsub is None:
            self._pubsub = self.redis.pubsub(
                ignore_subscribe_messages=True)
            self._pubsub.psubscribe(Keys.TELEM_PATTERN)
            deadline = time.monotonic() + 5.0
            while not self._pubsub.subscribed and time.monotonic() < deadline:
                self._pubsub.get_message(timeout=0.1)

    def _is_galileo_agent(self, node: str) -> bool:
        known = self._agents.get(node)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        try:
            agent = self.redis.hget(self.keys.telemd_info(node), "agent")
        except Exception:  # invalid node name for a key: not ours
            agent = None
        ours = agent is not None and _text(agent) == TELEMD_AGENT
        self._agents[node] = (ours, time.monotonic() + AGENT_CHECK_INTERVAL_S)
        return ours

    def _take(self, msg: dict[str, Any]) -> None:
        try:
            node, metric, subsystem = parse_telem_topic(msg["channel"])
            ts_ns, value = parse_telem_payload(msg["data"])
        except (ValueError, UnicodeDecodeError):
            self.malformed += 1
            return
        if self._is_galileo_agent(node):
            return
        self._buffer[node].append(TelemetrySample(node=node, metric=metric, subsystem=subsystem,
                                                  ts_ns=ts_ns, value=value))

    def flush(self) -> int:
        """Append the buffered samples to the stream (one entry per node)."""
        if not self._buffer:
            return 0
        count = 0
        with self.redis.pipeline(transaction=False) as pipe:
            for node, samples in self._buffer.items():
                batch = TelemetryBatch(node=node, exp_id=None, samples=samples)
                pipe.xadd(self.keys.telemetry, {TelemetryField: encode(batch)},
                          maxlen=TELEMETRY_STREAM_MAXLEN, approximate=True)
                pipe.sadd(self.keys.telemd_nodes, node)
                count += len(samples)
            pipe.execute()
        self._buffer.clear()
        self.forwarded += count
        return count

    def pump(self, timeout_s: float = BRIDGE_FLUSH_INTERVAL_S) -> int:
        """Take messages for up to ``timeout_s`` (returning early when the buffer is full),
        then flush; returns the samples forwarded."""
        self.subscribe()
        deadline = time.monotonic() + timeout_s
        while sum(map(len, self._buffer.values())) < BRIDGE_FLUSH_SAMPLES:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            msg = self._pubsub.get_message(timeout=left)
            if msg is not None and msg.get("type") == "pmessage":
                self._take(msg)
        return self.flush()

    def start(self) -> TelemBridge:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.pump()
                except BusError as e:
                    log.warning("telem bridge: Redis error (%s); retrying", e)
                    self._pubsub = None
                    self._stop.wait(1.0)

        self._thread = threading.Thread(target=loop, name="galileo-telem-bridge", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._pubsub is not None:
            self._pubsub.close()
        self.redis.close()
