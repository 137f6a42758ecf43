"""Delivery confirmation for trace entries: nothing is lost when Redis restarts EMPTY.

An entry written to the traces stream is only safe once the recorder committed it (it then
deletes the entry). Redis keeps nothing on disk, so entries still in the stream when it
restarts are gone. :class:`Unconfirmed` keeps each written entry (its id, payload and the
namespace epoch -- ``Keys.epoch``, set by the state keeper -- seen when it was written) until it
is known to be recorded:

* the entry is absent and the epoch is unchanged: the recorder took it -> forget it;
* the epoch changed (Redis restarted empty, the keeper set a new one): re-send it. The recorder
  stores a trace once per request id, so a re-sent entry that had been recorded is harmless.

Checks look at the oldest ``CHECK_BATCH`` entries every ``CHECK_INTERVAL_S``, in one pipeline.
The memory is bounded (``max_traces``; beyond it the oldest are forgotten, logged once).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Final

from galileo import bus

log = logging.getLogger(__name__)

CHECK_INTERVAL_S: Final = 0.5
CHECK_BATCH: Final = 256
DEFAULT_MAX_UNCONFIRMED: Final = 200_000  # traces (a few MB of encoded batches)


@dataclass(frozen=True)
class Written:
    entry_id: bytes
    data: bytes
    traces: int
    epoch: bytes | None


class Unconfirmed:
    """Entries of one stream written by one writer and not yet known to be recorded."""

    def __init__(self, client: bus.AsyncBus, epoch_key: str, who: str, *,
                 max_traces: int = DEFAULT_MAX_UNCONFIRMED) -> None:
        self._client = client
        self.epoch_key = epoch_key
        self._who = who
        self._max = max_traces
        self._items: deque[Written] = deque()
        self.traces = 0
        self.forgotten = 0
        self._next_check = 0.0

    def add(self, entry_id: bytes | str, data: bytes, traces: int, epoch: bytes | None) -> None:
        eid = entry_id.encode() if isinstance(entry_id, str) else entry_id
        self._items.append(Written(eid, data, traces, epoch))
        self.traces += traces
        while self.traces > self._max and self._items:
            old = self._items.popleft()
            self.traces -= old.traces
            if not self.forgotten:
                log.warning("%s: more than %d traces await the recorder; the oldest are no "
                            "longer kept for a re-send after a Redis restart", self._who,
                            self._max)
            self.forgotten += old.traces

    async def check(self, stream: str, now: float | None = None) -> list[tuple[bytes, int]]:
        """Forget entries of ``stream`` that were recorded; return ``(payload, traces)`` of
        entries to write again because Redis restarted since. Raises ``BusError``."""
        now = time.monotonic() if now is None else now
        if not self._items or now < self._next_check:
            return []
        self._next_check = now + CHECK_INTERVAL_S
        items = [self._items[i] for i in range(min(CHECK_BATCH, len(self._items)))]
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.get(self.epoch_key)
            for item in items:
                pipe.xrange(stream, item.entry_id, item.entry_id)
            epoch, *found = await pipe.execute()
        resend: list[tuple[bytes, int]] = []
        kept: list[Written] = []
        for item, present in zip(items, found, strict=True):
            if item.epoch == epoch:
                if present:
                    kept.append(item)  # still waiting for the recorder
                # absent under the same epoch: recorded
            elif item.epoch is None and present:  # written here before the keeper's epoch
                kept.append(Written(item.entry_id, item.data, item.traces, epoch))
            else:
                resend.append((item.data, item.traces))  # Redis restarted since
        for _ in items:
            self.traces -= self._items.popleft().traces
        for item in reversed(kept):
            self._items.appendleft(item)
            self.traces += item.traces
        if resend:
            log.warning("%s: Redis restarted since %d trace(s) were written; writing them "
                        "again (the recorder ignores what it already has)", self._who,
                        sum(n for _, n in resend))
        return resend
