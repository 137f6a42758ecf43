"""The worker daemon: registry entry, command channel, routing cache, stats, control state.

``Worker(settings, name=..., processes=N)``; ``await worker.start()`` starts the load
processes and connects (retrying with backoff until Redis answers or a stop is requested);
``await worker.stop()`` closes every group (in-flight requests are traced as cancelled, traces
flushed) and de-registers; ``await worker.run()`` does both around a stop request
(:meth:`request_stop`, SIGINT/SIGTERM in the CLI). A stop is obeyed within
``STOP_BUDGET_S`` in every state -- connecting, running, or draining with Redis gone.

Bus outages are logged once when they begin and once when they end; the worker keeps its
groups running and re-registers (with its groups) when Redis comes back empty
(:mod:`galileo.worker.registry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any, Final

import msgspec

from galileo import bus
from galileo.errors import BusError, GalileoError
from galileo.protocol import (
    HEARTBEAT_INTERVAL_S,
    REPLY_TTL_S,
    STATS_STREAM_MAXLEN,
    GroupStats,
    Keys,
    Reply,
    StatsField,
    check_name,
    decode_command,
    encode,
)
from galileo.settings import Settings
from galileo.worker.dispatch import Dispatcher
from galileo.worker.engine import Engine
from galileo.worker.generators import GeneratorPolicy
from galileo.worker.procs import EngineHandle, LocalHandle, ProcessHandle
from galileo.worker.registry import Registry
from galileo.worker.routing import RoutingCache
from galileo.worker.stats import merge_stats
from galileo.worker.traces import TraceShipping, TraceWriter

log = logging.getLogger(__name__)

STOP_BUDGET_S: Final = 4.5  # SIGTERM to exit, in every state
REPLY_DRAIN_S: Final = 0.5
DEREGISTER_TIMEOUT_S: Final = 0.5


class Worker:
    """One worker: ``processes`` load processes driven from this (main) process."""

    def __init__(self, settings: Settings, *, name: str | None = None,
                 processes: int | None = None) -> None:
        self.settings = settings
        self.name = check_name("worker", name or settings.worker_name)
        self.processes = max(1, processes or os.cpu_count() or 1)
        self.keys = Keys(settings.namespace)
        self.generators = GeneratorPolicy.from_settings(settings, self.name)
        self._client = bus.connect_async(settings)
        self._handles: list[EngineHandle] = []
        self.dispatcher = Dispatcher(self.name, [], self.generators)
        self.registry = Registry(self._client, self.keys, settings, self.name, self.processes)
        self.routing = RoutingCache(self._client, self.keys, self._broadcast)
        self._control: tuple[str | None, bool] | None = None
        self._seen_epoch = False  # a state keeper runs (Keys.epoch was seen)
        self._tasks: list[asyncio.Task[None]] = []
        self._replies: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._outage = bus.Outage(log, f"worker {self.name}")
        self._bad_commands: set[str] = set()
        self.local_engine: Engine | None = None
        self.connected = False
        self._pubsub: Any = None

    @property
    def started_ns(self) -> int:
        return self.registry.started_ns

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the load processes, then connect (with backoff until Redis answers or a stop
        is requested)."""
        if self.processes == 1:
            writer = TraceWriter(self._client, self.keys, self.name,
                                 shipping=TraceShipping.from_settings(self.settings))
            self.local_engine = Engine(self.name, writer.add, self.generators)
            self._handles = [LocalHandle(self.local_engine, writer)]
        else:
            self._handles = [ProcessHandle(self.settings, self.name, i)
                             for i in range(self.processes)]
        if not await self._until_stopped(asyncio.gather(*(h.start() for h in self._handles))):
            return
        self.dispatcher.handles = self._handles
        if await self._connect():
            loop = asyncio.get_running_loop()
            self._tasks += [loop.create_task(c) for c in (
                self._heartbeat(), self.routing.poll(), self._stats_loop())]
            log.info("worker %s started (%d process%s)", self.name, self.processes,
                     "" if self.processes == 1 else "es")

    async def _connect(self) -> bool:
        backoff = bus.Backoff()
        while not self._stop.is_set():
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.keys.worker_commands(self.name),
                                       self.keys.rtbl_updates, self.keys.control_events)
                await self.routing.reload_all()
                await self._read_control()
                await self.registry.register(self.dispatcher.clients,
                                             len(self.dispatcher.shares))
            except BusError as e:
                self._outage.failed(e)
                with contextlib.suppress(BusError):
                    await pubsub.aclose()
                await self._sleep(backoff.next_delay())
                continue
            self._outage.ok()
            self.connected = True
            self._pubsub = pubsub
            self._tasks.append(asyncio.get_running_loop().create_task(self._listen(pubsub)))
            return True
        return False

    async def _until_stopped(self, work: asyncio.Future[Any]) -> bool:
        """Await ``work`` unless a stop is requested first (then cancel it; False)."""
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if work.done():
            work.result()
            return True
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return False

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once on a stop request."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not wait_for: it can lose a cancellation
                await self._stop.wait()

    async def stop(self) -> None:
        """Stop within ``STOP_BUDGET_S`` whatever Redis does."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._pubsub is not None:
            with contextlib.suppress(BusError):
                await self._pubsub.aclose()
        if self._replies:
            await asyncio.wait(self._replies, timeout=REPLY_DRAIN_S)
        # replies still waiting (a close draining slow requests) and routing re-reads end here,
        # before the load stops: none is left pending when the loop closes
        await _cancel_and_wait([*self._replies, *self.routing.tasks])
        await asyncio.gather(*(h.stop() for h in self._handles))
        if self.connected:
            try:
                async with asyncio.timeout(DEREGISTER_TIMEOUT_S):
                    await self.registry.deregister()
            except (BusError, TimeoutError) as e:
                log.warning("worker %s: could not de-register (%s); the entry expires by "
                            "itself", self.name, str(e) or f"no answer in {DEREGISTER_TIMEOUT_S} s")
        with contextlib.suppress(BusError):
            await self._client.aclose()
        log.info("worker %s stopped", self.name)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.stop()

    # ------------------------------------------------------------------ registry
    async def _heartbeat(self) -> None:
        backoff = bus.Backoff()
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            try:
                anew = await self.registry.register(self.dispatcher.clients,
                                                    len(self.dispatcher.shares))
                if anew:  # Redis forgot us: it restarted empty or was flushed
                    await self.registry.record_reregistration(
                        self.dispatcher.shares, self._control[0] if self._control else None)
                    self.routing.on_update("*")
                await self.registry.restore_groups(self.dispatcher.spawned,
                                                   self.dispatcher.paused)
                await self._read_control()
            except BusError as e:
                self._outage.failed(e)
                await asyncio.sleep(min(backoff.next_delay(), HEARTBEAT_INTERVAL_S))
                continue
            self._outage.ok()
            backoff.reset()

    # ------------------------------------------------------------------ control state
    async def _read_control(self) -> None:
        values: list[bytes | None] = await self._client.mget(
            self.keys.current_experiment, self.keys.tracing, self.keys.epoch)
        exp, tracing, epoch = values
        if epoch is not None:
            self._seen_epoch = True
        elif self._seen_epoch and self._control is not None:
            return  # Redis came back empty: keep tagging as before until the state keeper
            # (galileo recorder) has restored the marker and the tracing switch
        state = (exp.decode() if exp else None, (tracing or b"on").lower() != b"off")
        if state != self._control:
            self._control = state
            self._broadcast("ctx", state)

    def _broadcast(self, op: str, payload: Any) -> None:
        for h in self._handles:
            h.notify(op, payload)

    # ------------------------------------------------------------------ bus
    async def _listen(self, pubsub: Any) -> None:
        cmd_channel = self.keys.worker_commands(self.name).encode()
        rtbl_channel = self.keys.rtbl_updates.encode()
        backoff = bus.Backoff()
        while True:
            try:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except BusError as e:
                self._outage.failed(e)
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            if msg is None or msg.get("type") != "message":
                continue
            channel, data = msg["channel"], bytes(msg["data"])
            # routing and control updates are applied before the next message is read: a
            # spawn published after ``rtbl.set``/``experiment.start`` then sees both
            if channel == cmd_channel:
                self._on_command(data)
            elif channel == rtbl_channel:
                await self.routing.update(data.decode(errors="replace"))
            else:
                try:
                    await self._read_control()
                except BusError as e:  # the heartbeat reads it again within a second
                    self._outage.failed(e)

    def _on_command(self, data: bytes) -> None:
        try:
            cmd = decode_command(data)
            check_name("correlation id", cmd.corr)
        except (msgspec.DecodeError, msgspec.ValidationError, GalileoError) as e:
            if str(e) not in self._bad_commands:  # once per distinct problem
                self._bad_commands.add(str(e))
                log.warning("worker %s: skipped a malformed command on %s: %s", self.name,
                            self.keys.worker_commands(self.name), e)
            return
        try:
            reply = self.dispatcher.submit(cmd)
        except GalileoError as e:
            reply = Reply(corr=cmd.corr, worker=self.name, ok=False, error=str(e),
                          applied_ns=time.time_ns())
        self._spawn_task(self._send_reply(reply))

    async def _send_reply(self, reply: Reply | asyncio.Future[Reply]) -> None:
        final = reply if isinstance(reply, Reply) else await reply
        key = self.keys.reply(final.corr)
        backoff = bus.Backoff()
        for _ in range(5):  # a reply matters: retry briefly through a short outage
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.lpush(key, encode(final))
                    pipe.expire(key, REPLY_TTL_S)
                    await pipe.execute()
                return
            except BusError as e:
                error = e
                await asyncio.sleep(backoff.next_delay())
        log.error("worker %s: could not send the reply %s: %s", self.name, final.corr, error)

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    # ------------------------------------------------------------------ stats
    async def _stats_loop(self) -> None:
        while True:
            now = time.time()
            await asyncio.sleep(int(now) + 1.01 - now)
            try:
                await self._publish_stats(int(time.time()) - 1)
            except BusError as e:
                self._outage.failed(e)
            except Exception:  # never let one bad second end the loop
                log.exception("worker %s: stats for one second failed", self.name)

    async def _publish_stats(self, second: int) -> None:
        results = await asyncio.gather(*(h.call("stats", second) for h in self._handles))
        parts: list[GroupStats] = [s for ok, _, d, _ in results if ok for s in d["stats"]]
        if not parts:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for stats in merge_stats(parts):
                pipe.xadd(self.keys.group_stats(stats.gid), {StatsField: encode(stats)},
                          maxlen=STATS_STREAM_MAXLEN, approximate=True)
            await pipe.execute()


def run_worker(settings: Settings, *, name: str | None = None,
               processes: int | None = None) -> None:
    """Run a worker on a (uv)loop until SIGINT/SIGTERM; exit cleanly."""
    import signal

    from galileo.load.httpclient import new_event_loop
    from galileo.process import quiet_gc

    from .loops import run_to_end

    async def main() -> None:
        worker = Worker(settings, name=name, processes=processes)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.request_stop)
        await worker.run()

    quiet_gc()
    run_to_end(new_event_loop(), main())


async def _cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has ended."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
