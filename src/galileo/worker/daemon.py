"""The worker daemon: registry entry, command channel, routing cache, stats, control state.

``Worker(settings, name=..., processes=N)``; ``await worker.start()`` connects, subscribes and
registers; ``await worker.stop()`` closes every group (in-flight requests are traced as
cancelled, traces flushed) and de-registers; ``await worker.run()`` does both around a stop
request (:meth:`request_stop`, SIGINT/SIGTERM in the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

import msgspec

from galileo import __version__, bus
from galileo.errors import BusError, GalileoError
from galileo.protocol import (
    HEARTBEAT_INTERVAL_S,
    REPLY_TTL_S,
    STATS_STREAM_MAXLEN,
    WORKER_TTL_S,
    GroupStats,
    Keys,
    Reply,
    StatsField,
    WorkerInfo,
    check_name,
    decode_command,
    encode,
)
from galileo.settings import Settings
from galileo.worker.dispatch import Dispatcher
from galileo.worker.engine import Engine
from galileo.worker.procs import EngineHandle, LocalHandle, ProcessHandle
from galileo.worker.routing import RoutingCache
from galileo.worker.stats import merge_stats
from galileo.worker.traces import TraceWriter

log = logging.getLogger(__name__)

RECONNECT_DELAY_S = 0.5


class Worker:
    """One worker: ``processes`` load processes driven from this (main) process."""

    def __init__(self, settings: Settings, *, name: str | None = None,
                 processes: int | None = None) -> None:
        self.settings = settings
        self.name = check_name("worker", name or settings.worker_name)
        self.processes = max(1, processes or os.cpu_count() or 1)
        self.keys = Keys(settings.namespace)
        self.started_ns = 0
        self._client = bus.connect_async(settings)
        self._handles: list[EngineHandle] = []
        self.dispatcher = Dispatcher(self.name, [])
        self.routing = RoutingCache(self._client, self.keys, self._broadcast)
        self._control: tuple[str | None, bool] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._replies: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self.local_engine: Engine | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.processes == 1:
            writer = TraceWriter(self._client, self.keys, self.name)
            self.local_engine = Engine(self.name, writer.add)
            self._handles = [LocalHandle(self.local_engine, writer)]
        else:
            self._handles = [ProcessHandle(self.settings, self.name, i)
                             for i in range(self.processes)]
        await asyncio.gather(*(h.start() for h in self._handles))
        self.dispatcher.handles = self._handles
        self.started_ns = time.time_ns()
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self.keys.worker_commands(self.name), self.keys.rtbl_updates,
                               self.keys.control_events)
        await self.routing.reload_all()
        await self._read_control()
        await self._register()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(c) for c in (
            self._listen(pubsub), self._heartbeat(), self.routing.poll(), self._stats_loop())]
        log.info("worker %s started (%d process%s)", self.name, self.processes,
                 "" if self.processes == 1 else "es")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._replies:
            await asyncio.wait(self._replies, timeout=5)
        await asyncio.gather(*(h.stop() for h in self._handles))
        with contextlib.suppress(BusError):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.delete(self.keys.worker(self.name))
                pipe.srem(self.keys.workers, self.name)
                await pipe.execute()
        await self._client.aclose()
        log.info("worker %s stopped", self.name)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        await self.start()
        try:
            await self._stop.wait()
        finally:
            await self.stop()

    # ------------------------------------------------------------------ registry
    def info(self) -> WorkerInfo:
        return WorkerInfo(
            name=self.name, host=socket.gethostname(), pid=os.getpid(),
            processes=self.processes, labels=dict(self.settings.labels),
            started_ns=self.started_ns, heartbeat_ns=time.time_ns(),
            clients=self.dispatcher.clients, groups=len(self.dispatcher.shares),
            version=__version__,
        )

    async def _register(self) -> None:
        key = self.keys.worker(self.name)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.sadd(self.keys.workers, self.name)
            pipe.hset(key, "info", encode(self.info()))
            pipe.expire(key, WORKER_TTL_S)
            await pipe.execute()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            try:
                await self._register()
                await self._read_control()
            except BusError as e:
                log.warning("worker %s: heartbeat failed: %s", self.name, e)

    # ------------------------------------------------------------------ control state
    async def _read_control(self) -> None:
        values: list[bytes | None] = await self._client.mget(
            self.keys.current_experiment, self.keys.tracing)
        exp, tracing = values
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
        while True:
            try:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except BusError as e:
                log.warning("worker %s: lost the command channel (%s); reconnecting", self.name, e)
                await asyncio.sleep(RECONNECT_DELAY_S)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            channel, data = msg["channel"], bytes(msg["data"])
            if channel == cmd_channel:
                self._on_command(data)
            elif channel == rtbl_channel:
                self.routing.on_update(data.decode(errors="replace"))
            else:
                self._spawn_task(self._read_control())

    def _on_command(self, data: bytes) -> None:
        try:
            cmd = decode_command(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
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
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.lpush(key, encode(final))
                pipe.expire(key, REPLY_TTL_S)
                await pipe.execute()
        except BusError as e:
            log.error("worker %s: could not send the reply %s: %s", self.name, final.corr, e)

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    # ------------------------------------------------------------------ stats
    async def _stats_loop(self) -> None:
        while True:
            now = time.time()
            await asyncio.sleep(int(now) + 1.01 - now)
            second = int(time.time()) - 1
            results = await asyncio.gather(*(h.call("stats", second) for h in self._handles))
            parts: list[GroupStats] = [s for ok, _, d, _ in results if ok for s in d["stats"]]
            if not parts:
                continue
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for stats in merge_stats(parts):
                        pipe.xadd(self.keys.group_stats(stats.gid), {StatsField: encode(stats)},
                                  maxlen=STATS_STREAM_MAXLEN, approximate=True)
                    await pipe.execute()
            except BusError as e:
                log.warning("worker %s: could not write group stats: %s", self.name, e)


def run_worker(settings: Settings, *, name: str | None = None,
               processes: int | None = None) -> None:
    """Run a worker on a (uv)loop until SIGINT/SIGTERM; exit cleanly."""
    import signal

    from galileo.load.httpclient import new_event_loop, quiet_gc

    async def main() -> None:
        worker = Worker(settings, name=name, processes=processes)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.request_stop)
        await worker.run()

    quiet_gc()
    loop = new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
