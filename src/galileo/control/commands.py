"""Send :mod:`galileo.protocol` commands to workers and collect their replies.

A command goes out on each worker's pub/sub channel; each worker ``LPUSH``es one
:class:`~galileo.protocol.Reply` to ``keys.reply(corr)``, which we ``BLPOP``. Pub/sub drops
messages nobody listens to, so a publish that reached no subscriber is retried until the
deadline (a worker may be registering right now) and then reported as silent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec

from galileo.bus import Bus
from galileo.errors import BusError, WorkerError
from galileo.events import as_bytes
from galileo.protocol import Command, Keys, Reply, decode_reply, encode, new_id

REPUBLISH_INTERVAL_S = 0.05
LIVENESS_CHECK_INTERVAL_S = 0.25  # how often silent workers' liveness keys are checked
REPLIES_PER_READ = 1000  # replies taken per LPOP after a BLPOP returned one


@dataclass
class Replies:
    """Replies from every worker a command went to; ``sent_ns`` is the wall clock at send."""

    corr: str
    sent_ns: int
    by_worker: dict[str, Reply] = field(default_factory=dict)
    received_mono_ns: dict[str, int] = field(default_factory=dict)
    silent: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # dead (liveness expired) before answering

    def failed(self) -> dict[str, str]:
        """Workers that answered ``ok=False`` and their error."""
        return {w: (r.error or "refused") for w, r in self.by_worker.items() if not r.ok}

    def raise_for_problems(self, what: str, *, lost_ok: bool = False) -> None:
        """Raise ``WorkerError`` naming lost (unless ``lost_ok``), silent or refusing workers."""
        if self.lost and not lost_ok:
            raise WorkerError(f"{what}: worker(s) {', '.join(sorted(self.lost))} lost (no "
                              "heartbeat within their liveness TTL)")
        if self.silent:
            raise WorkerError(f"{what}: no reply from worker(s) {', '.join(sorted(self.silent))}")
        failed = self.failed()
        if failed:
            detail = "; ".join(f"{w}: {e}" for w, e in sorted(failed.items()))
            raise WorkerError(f"{what}: worker(s) refused ({detail})")


class Commander:
    """Publishes commands and waits for replies over one Redis connection."""

    def __init__(self, client: Bus, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def send(self, commands: dict[str, Command], timeout: float, wait: bool = True,
             corr: str | None = None) -> Replies:
        """Publish ``commands[worker]`` to each worker; with ``wait``, collect their replies.

        Every command must carry the same ``corr`` (use :meth:`new_corr`)."""
        corr = corr or _corr_of(commands)
        replies = Replies(corr=corr, sent_ns=time.time_ns())
        deadline = time.monotonic() + timeout
        unheard = self._publish(commands, deadline)
        replies.lost.extend(self.dead(unheard))
        replies.silent.extend(w for w in unheard if w not in replies.lost)
        if wait:
            self.collect(replies, [w for w in commands if w not in unheard], deadline)
        return replies

    def dead(self, workers: Iterable[str]) -> list[str]:
        """Those of ``workers`` whose liveness key expired (``WORKER_TTL_S`` after their last
        heartbeat)."""
        names = sorted(workers)
        if not names:
            return []
        try:
            with self._r.pipeline(transaction=False) as pipe:
                for w in names:
                    pipe.exists(self._keys.worker(w))
                alive = pipe.execute()
        except BusError as e:
            raise BusError(f"cannot check the workers' liveness: {e}") from None
        return [w for w, a in zip(names, alive, strict=True) if not a]

    @staticmethod
    def new_corr() -> str:
        return new_id()

    def _publish(self, commands: dict[str, Command], deadline: float) -> list[str]:
        pending = {w: encode(c) for w, c in commands.items()}
        next_check = time.monotonic() + LIVENESS_CHECK_INTERVAL_S
        gone: list[str] = []
        while True:
            try:  # one round trip for all workers
                with self._r.pipeline(transaction=False) as pipe:
                    for worker, data in pending.items():
                        pipe.publish(self._keys.worker_commands(worker), data)
                    heard = pipe.execute()
                for worker, listeners in zip(list(pending), heard, strict=True):
                    if int(listeners):
                        del pending[worker]
            except BusError as e:
                raise BusError(f"cannot publish a command to the workers: {e}") from None
            if not pending or time.monotonic() >= deadline:
                return sorted([*pending, *gone])
            if time.monotonic() >= next_check:  # a dead worker never subscribes again
                next_check = time.monotonic() + LIVENESS_CHECK_INTERVAL_S
                for worker in self.dead(pending):
                    del pending[worker]
                    gone.append(worker)
            time.sleep(REPUBLISH_INTERVAL_S)

    def collect(self, replies: Replies, workers: Iterable[str], deadline: float,
                on_reply: Callable[[Reply], None] | None = None) -> Replies:
        """BLPOP replies for ``replies.corr`` until every worker answered, died (its liveness
        key expired: listed in ``replies.lost``) or ``deadline``. Replies are used as they come."""
        expected = set(workers) - set(replies.by_worker)
        key = self._keys.reply(replies.corr)
        try:
            while expected:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                item = self._r.blpop([key], timeout=max(min(left, LIVENESS_CHECK_INTERVAL_S),
                                                        0.01))
                if item is None:
                    dead = self.dead(expected)
                    replies.lost.extend(d for d in dead if d not in replies.lost)
                    expected.difference_update(dead)
                    continue
                more = self._r.lpop(key, REPLIES_PER_READ) if len(expected) > 1 else None
                for raw in [item[1], *(more or [])]:  # the rest of what arrived, one trip
                    try:
                        reply = decode_reply(as_bytes(raw))
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        continue
                    replies.by_worker[reply.worker] = reply
                    replies.received_mono_ns[reply.worker] = time.monotonic_ns()
                    expected.discard(reply.worker)
                    if on_reply is not None:
                        on_reply(reply)
            if not expected:
                self._r.delete(key)
        except BusError as e:
            raise BusError(f"lost Redis while waiting for worker replies: {e}") from None
        replies.silent.extend(sorted(expected - set(replies.silent)))
        return replies


def _corr_of(commands: dict[str, Command]) -> str:
    corrs = {c.corr for c in commands.values()}
    if len(corrs) != 1:
        raise ValueError("all commands of one send must share one correlation id")
    return corrs.pop()
