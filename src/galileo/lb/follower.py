"""A balancer process on the bus: follows the routing table, the experiment/tracing state and
policy commands, and ships lb traces.

* Routing: the worker's :class:`~galileo.worker.routing.RoutingCache` (same records, same
  validation), updated on every ``rtbl_updates`` message (in effect within milliseconds) and by a
  full re-read every ``RTBL_POLL_INTERVAL_S`` in case a message was dropped.
* Policy: :class:`LbCommand` on ``lb_commands`` for this balancer's name (or ``*``); the spec is
  also read from ``lb_policy(name)`` at start and on every poll, so a process that missed the
  message or started later converges. An unknown or disallowed policy is logged once and the
  current one stays.
* Traces: :class:`LbTraceWriter` on the lossless path the clients' traces take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from galileo import bus
from galileo.errors import BusError, ConfigError
from galileo.lb.balancer import Balancer
from galileo.lb.policies import load_policy
from galileo.protocol import (
    Keys,
    LbTrace,
    LbTraceBatch,
    RoutingRecord,
    decode_lb_command,
    encode,
)
from galileo.settings import Settings
from galileo.worker.routing import RoutingCache
from galileo.worker.traces import TraceWriter

__all__ = ["LbFollower", "LbTraceWriter"]

log = logging.getLogger(__name__)

CONTROL_POLL_INTERVAL_S: Final = 1.0
STOP_WAIT_S: Final = 3.0  # how long stop() waits for its cancelled tasks


class LbTraceWriter(TraceWriter):
    """Ships :class:`LbTrace` records to ``keys.lb_traces`` (batched, buffered while Redis is
    away, written again until acknowledged by the recorder)."""

    def __init__(self, client: bus.AsyncBus, keys: Keys, lb: str, **kwargs: Any) -> None:
        super().__init__(client, keys, lb, **kwargs)
        self._stream = keys.lb_traces

    def _encode_batch(self, traces: list[Any]) -> bytes:
        return encode(LbTraceBatch(lb=self._worker, traces=traces))


class LbFollower:
    """Keeps one :class:`Balancer` in step with the bus."""

    def __init__(self, settings: Settings, balancer: Balancer, *, trace: bool = True,
                 allowed_modules: Sequence[str] = ()) -> None:
        self.keys = Keys(settings.namespace)
        self.balancer = balancer
        self.name = balancer.config.name
        self.allowed_modules = tuple(allowed_modules)
        self._client = bus.connect_async(settings)
        self.routing = RoutingCache(self._client, self.keys, self._on_route)
        self.writer = LbTraceWriter(self._client, self.keys, self.name) if trace else None
        if self.writer is not None:
            balancer.tracer = self._add_trace
        self._tasks: list[asyncio.Task[None]] = []
        self._helpers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._key_seen: bytes | None = None  # the policy key as last read
        self._bad_spec: bytes | None = None

    def _on_route(self, op: str, payload: tuple[str, RoutingRecord | None]) -> None:
        service, record = payload
        self.balancer.update_route(service, record)

    def _add_trace(self, trace: LbTrace) -> None:
        assert self.writer is not None
        self.writer.add(trace)

    async def start(self) -> None:
        """Subscribe and read the current state (raises ``BusError`` if Redis is away)."""
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self.keys.rtbl_updates, self.keys.control_events,
                               self.keys.lb_commands)
        await self.routing.reload_all()
        await self._read_control()
        if self.writer is not None:
            self.writer.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(c, name=f"balancer {self.name}: {what}") for what, c in (
            ("channels", self._listen(pubsub)), ("routing poll", self.routing.poll()),
            ("control poll", self._control_loop()))]

    async def stop(self) -> None:
        """Cancel the follower's tasks and wait for them, at most ``STOP_WAIT_S``: a task that
        swallowed its cancellation (seen once, rarely, right after a Redis restart) must not
        stall SIGTERM; the loops also end on ``_stopping``."""
        self._stopping = True
        tasks = [*self._tasks, *self._helpers]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=STOP_WAIT_S)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("%s ended with %r", task.get_name(), task.exception())
            for task in pending:
                log.warning("%s did not stop within %.0f s; left behind", task.get_name(),
                            STOP_WAIT_S)
        self._tasks = []
        if self.writer is not None:
            await self.writer.close()
        with contextlib.suppress(BusError, OSError):
            await self._client.aclose()

    # ------------------------------------------------------------------ control state
    async def _control_loop(self) -> None:
        outage = bus.Outage(log, f"balancer {self.name}")
        while not self._stopping:
            await asyncio.sleep(CONTROL_POLL_INTERVAL_S)
            try:
                await self._read_control()
            except BusError as e:
                outage.failed(e)
                continue
            outage.ok()

    async def _read_control(self) -> None:
        exp, tracing, spec = await self._client.mget(
            self.keys.current_experiment, self.keys.tracing, self.keys.lb_policy(self.name))
        self.balancer.set_context(exp.decode() if exp else None,
                                  (tracing or b"on").lower() != b"off")
        if spec is not None and spec != self._key_seen:
            self._key_seen = spec
            self._apply_policy(spec)

    def _apply_policy(self, spec: bytes) -> None:
        text = spec.decode(errors="replace")
        try:
            policy = load_policy(text, self.allowed_modules)
        except ConfigError as e:
            if spec != self._bad_spec:
                self._bad_spec = spec
                log.error("balancer %s: policy %r ignored: %s", self.name, text, e)
            return
        if policy.describe() != self.balancer.policy_name:
            self.balancer.set_policy(policy)

    # ------------------------------------------------------------------ bus
    async def _listen(self, pubsub: Any) -> None:
        rtbl = self.keys.rtbl_updates.encode()
        commands = self.keys.lb_commands.encode()
        backoff, outage = bus.Backoff(), bus.Outage(log, f"balancer {self.name} channels")
        while not self._stopping:
            try:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except BusError as e:
                outage.failed(e)
                await asyncio.sleep(backoff.next_delay())
                continue
            outage.ok()
            backoff.reset()
            if msg is None or msg.get("type") != "message":
                continue
            channel, data = msg["channel"], bytes(msg["data"])
            if channel == rtbl:
                self.routing.on_update(data.decode(errors="replace"))
            elif channel == commands:
                self._on_command(data)
            else:
                self._spawn(self._read_control())

    def _on_command(self, data: bytes) -> None:
        try:
            cmd = decode_lb_command(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            log.warning("balancer %s: skipped a malformed command on %s: %s", self.name,
                        self.keys.lb_commands, e)
            return
        if cmd.lb in (self.name, "*"):
            self._apply_policy(cmd.policy.encode())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._quietly(coro))
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    @staticmethod
    async def _quietly(coro: Any) -> None:
        with contextlib.suppress(BusError):
            await coro
