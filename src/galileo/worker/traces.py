"""Lossless trace shipping: batch traces and ``XADD`` them to ``keys.traces``, within a cap.

Traces are batched (``TRACE_BATCH_MAX`` per stream entry, flushed every
``TRACE_FLUSH_INTERVAL_S`` or as soon as a batch is full). The traces stream never holds more
than ``galileo_trace_backlog_max_entries`` entries: a worker adds entries with one Lua script that
checks the stream's length first (atomic, so many workers together stay under the cap), so a slow
or stopped recorder can never make Redis -- the bus every experiment depends on -- run out of
memory. Whatever cannot be written (the cap is reached, or Redis is unreachable) waits in the
worker's local :class:`~galileo.worker.spill.Backlog` (memory, then a spill file on disk) and is
delivered as the stream drains. Each limit is logged once per episode and recorded as an event:
``trace_backlog_full`` (holding locally), ``trace_spill`` (spilling to disk), ``traces_dropped``
(memory and spill file full: the one place traces are lost, counted). Written entries are kept
until the recorder took them, and written again if Redis restarted empty meanwhile
(:mod:`galileo.worker.delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

from galileo import bus
from galileo.errors import BusError
from galileo.protocol import (
    TRACE_BATCH_MAX,
    TRACE_FLUSH_INTERVAL_S,
    EventField,
    EventKind,
    Keys,
    TraceField,
    encode,
    encode_trace_batch,
    new_event,
)
from galileo.settings import Settings
from galileo.worker.delivery import Unconfirmed
from galileo.worker.spill import Backlog, BacklogLimits

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES: Final = 2_000  # stream entries (each up to TRACE_BATCH_MAX traces)
RETRY_INTERVAL_S: Final = 0.5
WRITE_CHUNK: Final = 64  # batches per round trip
STOP_ROUNDS: Final = 5  # close(): cancel the loop up to this many times,
STOP_ROUND_S: Final = 0.5  # waiting this long after each
DROP_NOTE_INTERVAL_S: Final = 10.0  # at most one traces_dropped event (with totals) this often

# KEYS[1] the stream; ARGV[1] the cap (entries), ARGV[2] the field, ARGV[3..] payloads.
# Adds payloads in order while the stream is below the cap; returns the new entry ids.
CAPPED_XADD: Final = """
local room = tonumber(ARGV[1]) - redis.call('XLEN', KEYS[1])
local ids = {}
for i = 3, #ARGV do
  if room <= 0 then break end
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[i])
  room = room - 1
end
return ids
"""


@dataclass(frozen=True, kw_only=True)
class TraceShipping:
    """Bounds of trace shipping: the cap on the stream in Redis and the local backlog."""

    max_entries: int = DEFAULT_MAX_ENTRIES
    local: BacklogLimits = field(default_factory=BacklogLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> TraceShipping:
        spill = settings.worker_spill_dir or settings.data_dir / "spill"
        return cls(max_entries=settings.trace_backlog_max_entries,
                   local=BacklogLimits(memory_bytes=int(settings.worker_trace_memory_mb * 2**20),
                                       spill_dir=spill if settings.worker_spill_max_mb > 0
                                       else None,
                                       spill_bytes=int(settings.worker_spill_max_mb * 2**20)))


class TraceWriter:
    """Collects :class:`Trace` objects (``add`` is cheap) and ships them in the background."""

    def __init__(self, client: bus.AsyncBus, keys: Keys, worker: str, *,
                 shipping: TraceShipping | None = None) -> None:
        self._client = client
        self._stream = keys.traces
        self._events = keys.events
        self._worker = worker
        self.shipping = shipping or TraceShipping()
        self._traces: list[Any] = []
        self._backlog = Backlog(self.shipping.local, worker)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._outage = False
        self._full = False  # the stream is at its cap: holding locally
        self._spilling = False
        self._dropped_reported = 0
        self._next_drop_note = 0.0
        self._notes: list[tuple[EventKind, dict[str, Any]]] = []  # events not yet sent
        self._unconfirmed = Unconfirmed(client, keys.epoch, f"worker {worker}")
        self.written = 0
        self._backlog.adopt_orphans()

    @property
    def dropped(self) -> int:
        return self._backlog.dropped

    @property
    def spilled_total(self) -> int:
        return self._backlog.spilled_total

    def add(self, trace: Any) -> None:
        traces = self._traces
        traces.append(trace)
        if len(traces) >= TRACE_BATCH_MAX:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the background task and write what is buffered (retrying up to ``timeout_s``);
        what still cannot be written is kept in the spill file for the next start."""
        await self._stop_task()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await self.flush() and loop.time() < deadline:
            await asyncio.sleep(RETRY_INTERVAL_S)
        lost = self._backlog.close()
        if lost:
            log.error("worker %s: %d traces could not be written to Redis at shutdown and are "
                      "lost (no spill directory)", self._worker, lost)

    async def _stop_task(self) -> None:
        """End the background loop: a stop flag it checks every round, and cancels repeated
        until it is done (a cancellation that coincides with the loop's own timeout can be
        swallowed; waiting for the task unbounded then hung ``close()``)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        for _ in range(STOP_ROUNDS):
            task.cancel()
            done, _pending = await asyncio.wait({task}, timeout=STOP_ROUND_S)
            if done:
                break
        else:
            log.error("worker %s: the trace writer's loop did not stop within %.0f s",
                      self._worker, STOP_ROUNDS * STOP_ROUND_S)
            return
        if not task.cancelled() and task.exception() is not None:
            log.error("worker %s: the trace writer's loop failed: %r", self._worker,
                      task.exception())

    async def _run(self) -> None:
        while not self._closing:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
            # arrives as the event is set, and close() then waited for this loop for ever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TRACE_FLUSH_INTERVAL_S):
                    await self._wake.wait()
            self._wake.clear()
            if not await self.flush():
                await asyncio.sleep(RETRY_INTERVAL_S)
                continue
            with contextlib.suppress(BusError):  # retried on the next round
                self._resend(await self._unconfirmed.check(self._stream))

    def _resend(self, batches: list[tuple[bytes, int]]) -> None:
        for data, n in reversed(batches):  # first, in their original order
            self._backlog.push_front(data, n)

    def _encode_buffered(self) -> None:
        traces, self._traces = self._traces, []
        for i in range(0, len(traces), TRACE_BATCH_MAX):
            chunk = traces[i:i + TRACE_BATCH_MAX]
            self._backlog.push(self._encode_batch(chunk), len(chunk))
        if self._backlog.spilled and not self._spilling:
            self._spilling = True
            self._note(EventKind.TRACE_SPILL, spill_dir=str(self.shipping.local.spill_dir))
        dropped = self._backlog.dropped
        now = time.monotonic()
        if dropped > self._dropped_reported and now >= self._next_drop_note:
            self._next_drop_note = now + DROP_NOTE_INTERVAL_S
            self._note(EventKind.TRACES_DROPPED, total=dropped,
                       new=dropped - self._dropped_reported,
                       memory_mb=self.shipping.local.memory_bytes >> 20,
                       spill_mb=self.shipping.local.spill_bytes >> 20)
            self._dropped_reported = dropped

    def _encode_batch(self, traces: list[Any]) -> bytes:
        """One stream entry's payload (a subclass ships another record type the same way)."""
        return encode_trace_batch(self._worker, traces)

    def _note(self, kind: EventKind, **data: Any) -> None:
        """An event about this writer's limits, sent with the next successful write."""
        data.update(backlog=self._backlog.traces, spilled=self._backlog.spilled,
                    stream=self._stream, cap_entries=self.shipping.max_entries)
        self._notes.append((kind, data))
        log.warning("worker %s: %s %s", self._worker, kind.value, data)

    async def flush(self) -> bool:
        """Write everything buffered; False when Redis failed or the stream is at its cap
        (the data stays in the local backlog for a retry)."""
        self._encode_buffered()
        backlog = self._backlog
        while backlog:
            batch = backlog.head(WRITE_CHUNK)
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.get(self._unconfirmed.epoch_key)
                    pipe.eval(CAPPED_XADD, 1, self._stream, self.shipping.max_entries,
                              TraceField, *(data for data, _ in batch))
                    for kind, note in self._notes:
                        pipe.xadd(self._events, {EventField: encode(new_event(
                            kind, name=self._worker, data=note))})
                    epoch, ids, *_ = await pipe.execute()
            except BusError as e:
                if not self._outage:
                    self._outage = True
                    log.warning("worker %s: cannot write traces to Redis (%s); keeping %d "
                                "traces locally and retrying", self._worker, e, backlog.traces)
                return False
            self._notes.clear()
            if self._outage:
                self._outage = False
                log.warning("worker %s: Redis reachable again, writing the trace backlog",
                            self._worker)
            for entry_id, (data, n) in zip(ids, batch, strict=False):
                self.written += n
                self._unconfirmed.add(entry_id, data, n, epoch)
            backlog.pop(len(ids))
            if len(ids) < len(batch):
                if not self._full:
                    self._full = True
                    self._note(EventKind.TRACE_BACKLOG_FULL)
                return False
            if self._full:
                self._full = False
                log.warning("worker %s: the traces stream is below its cap again; delivering "
                            "the local backlog (%d traces)", self._worker, backlog.traces)
        self._spilling = False
        return True

    @property
    def buffered(self) -> int:
        return len(self._traces) + self._backlog.traces
