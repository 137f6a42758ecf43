"""The telemetry agent (``galileo telemd``): samples its node and ships the samples.

Each tick, the instruments that are due (each has its own period, default 1 s) are read with one
wall-clock timestamp. The samples go, in one pipeline, to the Redis Stream ``Keys.telemetry``
(lossless; the recorder stores them under the running experiment) and, unless disabled, to the
seed pub/sub topics ``telem/<node>/<metric>[/<subsystem>]`` as ``"<unix_ts> <value>"``.

The agent listens on ``telemcmd/<node>`` for ``pause``, ``unpause`` and ``info``; a command
followed by a correlation id (``pause <corr>``) is acknowledged with a :class:`Reply` on
``Keys.reply(corr)``. Its node info lives in ``telemd.info:<node>``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from galileo import bus
from galileo.errors import BusError
from galileo.protocol import (
    REPLY_TTL_S,
    TELEMETRY_PERIOD_S,
    TELEMETRY_STREAM_MAXLEN,
    Keys,
    Reply,
    TelemetryBatch,
    TelemetryCommand,
    TelemetryField,
    TelemetrySample,
    check_name,
    encode,
    format_telem_payload,
)
from galileo.settings import Settings
from galileo.telemetry.cgroups import CgroupInstrument, ProcessInstrument, ProcessTarget
from galileo.telemetry.info import node_info
from galileo.telemetry.instruments import SYSTEM_INSTRUMENTS, Instrument, build_instruments

log = logging.getLogger(__name__)

ALL_INSTRUMENTS: Final = (*SYSTEM_INSTRUMENTS, "cgroup", "proc")
MAX_WAIT_S: Final = 0.5  # longest block on the command channel (how fast ``stop`` is seen)


@dataclass
class AgentStats:
    ticks: int = 0
    samples: int = 0
    paused_ticks: int = 0  # ticks skipped while paused
    commands: int = 0


@dataclass
class _Scheduled:
    instrument: Instrument
    period_s: float
    due: float = 0.0  # monotonic seconds


@dataclass
class AgentOptions:
    """What to sample and how often (periods by instrument name, default ``period_s``)."""

    instruments: Iterable[str] = ALL_INSTRUMENTS
    period_s: float = TELEMETRY_PERIOD_S
    periods: Mapping[str, float] = field(default_factory=dict)
    per_core: bool = False
    cgroups: Mapping[str, Path] = field(default_factory=dict)
    processes: Mapping[str, str | int] = field(default_factory=dict)
    discover_containers: bool = True
    publish_topics: bool = True
    node_cgroup: str = ""  # the node's figures (cpu, ram) from this cgroup (a testbed host)


class Agent:
    """One node's telemetry agent. ``run(stop)`` loops; ``tick()`` samples once (tests)."""

    def __init__(self, settings: Settings, node: str | None = None,
                 options: AgentOptions | None = None, *,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.node = check_name("node", node or settings.worker_name)
        self.options = options or AgentOptions()
        self.clock = clock
        self.stats = AgentStats()
        self.paused = False
        self.redis: bus.Bus = bus.connect(settings, check=False)  # run() retries
        self._pubsub: Any = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.processes = ProcessInstrument(self.options.processes)
        self._schedule = [_Scheduled(inst, self._period(inst.name))
                          for inst in self._instruments()]

    # ------------------------------------------------------------------ setup
    def _period(self, name: str) -> float:
        period = float(self.options.periods.get(name, self.options.period_s))
        if not period > 0:
            raise ValueError(f"period of instrument {name!r} must be > 0")
        return period

    def _instruments(self) -> list[Instrument]:
        names = list(self.options.instruments)
        unknown = sorted(set(names) - set(ALL_INSTRUMENTS))
        if unknown:
            from galileo.errors import ValidationError

            raise ValidationError(f"unknown telemetry instrument {unknown[0]!r} (available: "
                                  f"{', '.join(ALL_INSTRUMENTS)})")
        from_cgroup = ("cpu", "ram") if self.options.node_cgroup else ()
        out = build_instruments([n for n in names if n in SYSTEM_INSTRUMENTS
                                 and n not in from_cgroup], self.options.per_core)
        if from_cgroup and any(n in names for n in from_cgroup):
            from galileo.telemetry.cgroups import NodeCgroupInstrument

            out.append(NodeCgroupInstrument(self.options.node_cgroup))
        if "cgroup" in names:
            cg = CgroupInstrument(self.options.cgroups,
                                  discover=self.options.discover_containers)
            if cg.root is not None or cg.named:
                out.append(cg)
            else:
                log.info("no cgroup v2 hierarchy on this node; cgroup instrument skipped")
        if "proc" in names:
            out.append(self.processes)
        return out

    @property
    def instrument_names(self) -> list[str]:
        return [s.instrument.name for s in self._schedule]

    def watch_process(self, name: str, target: str | int) -> None:
        """Also report ``proc_*/<name>`` for a pid or a command-line substring."""
        with self._lock:
            self.processes.watch(check_name("process name", name), ProcessTarget.parse(str(target)))

    def register(self) -> None:
        """Publish the node info and join the namespace's node set."""
        info: dict[Any, Any] = dict(node_info())
        with self.redis.pipeline() as pipe:
            pipe.delete(self.keys.telemd_info(self.node))
            pipe.hset(self.keys.telemd_info(self.node), mapping=info)
            pipe.sadd(self.keys.telemd_nodes, self.node)
            pipe.execute()

    def subscribe(self) -> None:
        """Listen on ``telemcmd/<node>`` (confirmed before returning)."""
        if self._pubsub is None:
            self._pubsub = self.redis.pubsub(
                ignore_subscribe_messages=True)
            self._pubsub.subscribe(self.keys.telemd_commands(self.node))
            deadline = time.monotonic() + 5.0
            while not self._pubsub.subscribed and time.monotonic() < deadline:
                self._pubsub.get_message(timeout=0.1)

    def start(self) -> Agent:
        """Run in a background thread (registered and listening when this returns)."""
        if self._thread is None:
            self.register()
            self.subscribe()
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, args=(self._stop,), daemon=True,
                                            name=f"galileo-telemd-{self.node}")
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the background thread started by :meth:`start` (waits for it)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(10.0)
            self._thread = None

    def close(self) -> None:
        """Stop, leave the node set and release connections and instruments."""
        self.stop()
        with contextlib.suppress(BusError):
            self.redis.srem(self.keys.telemd_nodes, self.node)
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None
        for s in self._schedule:
            s.instrument.close()
        self.redis.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sampling
    def tick(self, now_mono: float | None = None, *, force: bool = False) -> int:
        """Sample the due instruments (all with ``force``) and ship them; returns the count."""
        now_mono = time.monotonic() if now_mono is None else now_mono
        due = [s for s in self._schedule if force or s.due <= now_mono]
        if not due:
            return 0
        for s in due:  # next due time on the period grid, skipping missed slots
            s.due = s.due + s.period_s if s.due else now_mono + s.period_s
            if s.due <= now_mono:
                s.due = now_mono + s.period_s
        if self.paused:
            self.stats.paused_ticks += 1
            return 0
        now_ns = self.clock()
        samples: list[TelemetrySample] = []
        with self._lock:
            for s in due:
                try:
                    readings = s.instrument.sample(now_ns)
                except Exception:  # one broken instrument must not stop the agent
                    log.exception("instrument %s failed", s.instrument.name)
                    continue
                samples += [TelemetrySample(node=self.node, metric=m, subsystem=sub, ts_ns=now_ns,
                                            value=float(v), window_ns=w)
                            for m, sub, v, w in readings]
        self.stats.ticks += 1
        if samples:
            self.ship(samples)
        return len(samples)

    def ship(self, samples: list[TelemetrySample]) -> None:
        """Send ``samples`` to the stream (with the current experiment id) and seed topics."""
        exp = self.redis.get(self.keys.current_experiment)
        exp_id = exp.decode() if isinstance(exp, bytes) else exp
        batch = TelemetryBatch(node=self.node, exp_id=exp_id, samples=samples)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.telemd_nodes, self.node)
            pipe.xadd(self.keys.telemetry, {TelemetryField: encode(batch)},
                      maxlen=TELEMETRY_STREAM_MAXLEN, approximate=True)
            if self.options.publish_topics:
                for s in samples:
                    pipe.publish(self.keys.telem_topic(s.node, s.metric, s.subsystem),
                                 format_telem_payload(s.ts_ns, s.value))
            added, *_ = pipe.execute()
        self.stats.samples += len(samples)
        if added and self.stats.ticks > 1:  # Redis lost the node (restarted empty): re-register
            log.warning("telemd %s: Redis lost this node's registration; registered again",
                        self.node)
            self.register()

    def next_due(self) -> float:
        return min((s.due for s in self._schedule), default=time.monotonic() + MAX_WAIT_S)

    # ------------------------------------------------------------------ control
    def pause(self) -> None:
        self.paused = True

    def unpause(self) -> None:
        """Resume; counters take a fresh baseline so no window spans the pause."""
        if self.paused:
            with self._lock:
                for s in self._schedule:
                    s.instrument.reset()
                    s.due = 0.0
            self.paused = False

    def handle_command(self, text: str) -> None:
        """Apply one ``telemcmd`` message (unknown words are logged and ignored)."""
        word, _, corr = text.strip().partition(" ")
        self.stats.commands += 1
        try:
            command = TelemetryCommand(word)
        except ValueError:
            log.warning("ignoring unknown telemd command %r on %s", text[:80],
                        self.keys.telemd_commands(self.node))
            return
        if command is TelemetryCommand.PAUSE:
            self.pause()
        elif command is TelemetryCommand.UNPAUSE:
            self.unpause()
        else:
            self.register()
        if corr:
            with contextlib.suppress(Exception):
                reply = Reply(corr=check_name("correlation id", corr.strip()), worker=self.node,
                              applied_ns=time.time_ns(), data={"paused": self.paused})
                with self.redis.pipeline(transaction=False) as pipe:
                    pipe.lpush(self.keys.reply(reply.corr), encode(reply))
                    pipe.expire(self.keys.reply(reply.corr), int(REPLY_TTL_S))
                    pipe.execute()

    def poll_commands(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for commands and apply all that arrived."""
        self.subscribe()
        msg = self._pubsub.get_message(timeout=max(timeout_s, 0.0))
        while msg is not None:
            if msg.get("type") == "message":
                data = msg["data"]
                self.handle_command(data.decode(errors="replace") if isinstance(data, bytes)
                                    else str(data))
            msg = self._pubsub.get_message(timeout=0)

    # ------------------------------------------------------------------ forever
    def run(self, stop: threading.Event) -> None:
        """Register, then sample on schedule and obey commands until ``stop`` is set.
        Redis outages are logged once when they begin and end, retried with backoff, and
        followed by a fresh registration (Redis may have come back empty); the agent never
        crashes on them."""
        backoff, outage = bus.Backoff(), bus.Outage(log, f"telemd {self.node}")
        registered = False
        while not stop.is_set():
            try:
                if not registered:
                    self.register()
                    self.subscribe()
                    registered = True
                    log.info("telemd %s: %s every %.3g s → %s", self.node,
                             ", ".join(self.instrument_names), self.options.period_s,
                             self.keys.telemetry)
                self.subscribe()
                self.poll_commands(min(MAX_WAIT_S, self.next_due() - time.monotonic()))
                self.tick()
            except BusError as e:
                outage.failed(e)
                if self._pubsub is not None:
                    with contextlib.suppress(BusError):
                        self._pubsub.close()
                self._pubsub = None
                stop.wait(backoff.next_delay())
                continue
            if outage.ok():
                registered = False  # re-register: Redis may have lost the node's entries
            backoff.reset()
