"""Lossless trace shipping: batch traces and ``XADD`` them to ``keys.traces``.

Traces are batched (``TRACE_BATCH_MAX`` per stream entry, flushed every
``TRACE_FLUSH_INTERVAL_S`` or as soon as a batch is full). When Redis is unreachable the encoded
batches stay in memory up to ``max_buffered`` traces (a warning is logged once per outage, with
counts) and are retried; beyond the bound the oldest batches are dropped and an error names how
many traces were lost. No ``MAXLEN``: the recorder deletes what it committed. Written entries
are kept until the recorder took them, and written again if Redis restarted empty meanwhile
(:mod:`galileo.worker.delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, Final

from galileo import bus
from galileo.errors import BusError
from galileo.protocol import (
    TRACE_BATCH_MAX,
    TRACE_FLUSH_INTERVAL_S,
    Keys,
    TraceBatch,
    TraceField,
    encode,
)
from galileo.worker.delivery import Unconfirmed

log = logging.getLogger(__name__)

DEFAULT_MAX_BUFFERED: Final = 1_000_000
RETRY_INTERVAL_S: Final = 0.5


class TraceWriter:
    """Collects :class:`Trace` objects (``add`` is cheap) and ships them in the background."""

    def __init__(
        self, client: bus.AsyncBus, keys: Keys, worker: str, *,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        self._client = client
        self._stream = keys.traces
        self._worker = worker
        self._max = max_buffered
        self._traces: list[Any] = []
        self._pending: deque[tuple[bytes, int]] = deque()  # encoded batches not yet written
        self._pending_count = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outage = False
        self._unconfirmed = Unconfirmed(client, keys.epoch, f"worker {worker}")
        self.written = 0
        self.dropped = 0

    def add(self, trace: Any) -> None:
        traces = self._traces
        traces.append(trace)
        if len(traces) >= TRACE_BATCH_MAX:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the background task and write what is buffered (retrying up to ``timeout_s``)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await self.flush() and loop.time() < deadline:
            await asyncio.sleep(RETRY_INTERVAL_S)
        if self._pending_count:
            log.error("worker %s: %d traces could not be written to Redis at shutdown and are "
                      "lost", self._worker, self._pending_count)

    async def _run(self) -> None:
        while True:
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
            self._pending.appendleft((data, n))
            self._pending_count += n

    def _encode_buffered(self) -> None:
        traces, self._traces = self._traces, []
        for i in range(0, len(traces), TRACE_BATCH_MAX):
            chunk = traces[i:i + TRACE_BATCH_MAX]
            batch = self._encode_batch(chunk)
            self._pending.append((batch, len(chunk)))
            self._pending_count += len(chunk)
        while self._pending_count > self._max and self._pending:
            _, n = self._pending.popleft()
            self._pending_count -= n
            self.dropped += n
            log.error("worker %s: trace buffer full (%d traces) while Redis is unreachable; "
                      "dropped %d traces (%d in total)", self._worker, self._max, n, self.dropped)

    def _encode_batch(self, traces: list[Any]) -> bytes:
        """One stream entry's payload (a subclass ships another record type the same way)."""
        return encode(TraceBatch(worker=self._worker, traces=traces))

    async def flush(self) -> bool:
        """Write everything buffered; False when Redis failed (data kept for a retry)."""
        self._encode_buffered()
        while self._pending:
            batch = list(self._pending)[:64]
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.get(self._unconfirmed.epoch_key)
                    for data, _ in batch:
                        pipe.xadd(self._stream, {TraceField: data})
                    epoch, *ids = await pipe.execute()
            except BusError as e:
                if not self._outage:
                    self._outage = True
                    log.warning("worker %s: cannot write traces to Redis (%s); buffering "
                                "%d traces (bound %d) and retrying", self._worker, e,
                                self._pending_count, self._max)
                return False
            for entry_id in ids:
                data, n = self._pending.popleft()
                self._pending_count -= n
                self.written += n
                self._unconfirmed.add(entry_id, data, n, epoch)
            if self._outage:
                self._outage = False
                log.warning("worker %s: Redis reachable again, trace backlog written",
                            self._worker)
        return True

    @property
    def buffered(self) -> int:
        return len(self._traces) + self._pending_count
