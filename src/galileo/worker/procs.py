"""Worker processes and the handles the main process drives them through.

The main process holds the Redis control connection; each load process runs one
:class:`~galileo.worker.engine.Engine` on its own (uvloop) event loop and writes its traces to
Redis itself. Operations go over a ``multiprocessing`` pipe as ``("call", seq, op, payload)``;
the process answers ``(seq, ok, error, data, applied_ns)`` (``seq`` 0 = no answer wanted).
Ops: ``cmd`` (a split group command), ``stats`` (a unix second), ``close_all``, ``route``
(``(service, record | None)``), ``ctx`` (``(exp_id, tracing)``). With one process the engine
runs in the main process behind :class:`LocalHandle` (same interface, no pipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from typing import Any, Protocol

from galileo import bus
from galileo.errors import BusError, GalileoError
from galileo.load.httpclient import new_event_loop
from galileo.process import quiet_gc
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.worker.engine import Engine
from galileo.worker.generators import GeneratorPolicy
from galileo.worker.traces import TraceShipping, TraceWriter

from .loops import run_to_end

log = logging.getLogger(__name__)

Result = tuple[bool, str | None, dict[str, Any], int]  # ok, error, data, applied_ns
CHILD_STOP_TIMEOUT_S = 3.5  # within the daemon's STOP_BUDGET_S
CHILD_FLUSH_TIMEOUT_S = 1.5  # traces still unwritten then (Redis gone) are reported lost


async def run_op(engine: Engine, op: str, payload: Any) -> dict[str, Any]:
    if op == "cmd":
        return await engine.apply(payload)
    if op == "stats":
        return {"stats": engine.take_stats(payload)}
    if op == "route":
        engine.set_route(*payload)
    elif op == "ctx":
        engine.set_context(*payload)
    elif op == "close_all":
        await engine.close()
    return {}


async def run_op_safely(engine: Engine, op: str, payload: Any) -> Result:
    try:
        data = await run_op(engine, op, payload)
        return True, None, data, time.time_ns()
    except GalileoError as e:
        return False, str(e), {}, time.time_ns()
    except Exception as e:  # a bug must not kill the worker: report it in the reply
        log.exception("worker op %s failed", op)
        return False, f"internal worker error: {type(e).__name__}: {e}", {}, time.time_ns()


class EngineHandle(Protocol):
    def call(self, op: str, payload: Any) -> asyncio.Future[Result]: ...
    def notify(self, op: str, payload: Any) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LocalHandle:
    """The engine in this process (``processes=1``)."""

    def __init__(self, engine: Engine, writer: TraceWriter) -> None:
        self.engine = engine
        self.writer = writer

    def call(self, op: str, payload: Any) -> asyncio.Future[Result]:
        return asyncio.ensure_future(run_op_safely(self.engine, op, payload))

    def notify(self, op: str, payload: Any) -> None:
        self.call(op, payload)

    async def start(self) -> None:
        self.writer.start()

    async def stop(self) -> None:
        await self.engine.close()
        await self.writer.close(CHILD_FLUSH_TIMEOUT_S)


class ProcessHandle:
    """A load process started with ``spawn``; talks over a pipe."""

    def __init__(self, settings: Settings, worker: str, index: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._child_conn = child
        self.process = ctx.Process(
            target=child_main, args=(child, settings, worker), daemon=True,
            name=f"galileo-worker-{worker}-{index}",
        )
        self._seq = 0
        self._futures: dict[int, asyncio.Future[Result]] = {}
        self._ready: asyncio.Future[Result] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        self._futures[-1] = self._ready
        self.process.start()
        self._child_conn.close()
        self._loop.add_reader(self._conn.fileno(), self._on_readable)
        await self._ready

    def call(self, op: str, payload: Any) -> asyncio.Future[Result]:
        assert self._loop is not None
        self._seq += 1
        fut: asyncio.Future[Result] = self._loop.create_future()
        self._futures[self._seq] = fut
        try:
            self._conn.send(("call", self._seq, op, payload))
        except (OSError, ValueError) as e:
            self._futures.pop(self._seq)
            fut.set_result((False, f"worker process {self.process.name} is gone: {e}", {}, 0))
        return fut

    def notify(self, op: str, payload: Any) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(("call", 0, op, payload))

    def _on_readable(self) -> None:
        try:
            while self._conn.poll():
                seq, ok, error, data, applied = self._conn.recv()
                fut = self._futures.pop(seq, None)
                if fut is not None and not fut.done():
                    fut.set_result((ok, error, data, applied))
        except (EOFError, OSError):
            self._gone()

    def _gone(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._conn.fileno())
        for fut in self._futures.values():
            if not fut.done():
                fut.set_result((False, f"worker process {self.process.name} exited", {}, 0))
        self._futures.clear()

    async def stop(self) -> None:
        if self._loop is None:  # never started
            self._conn.close()
            return
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(("stop",))
        deadline = time.monotonic() + CHILD_STOP_TIMEOUT_S
        while self.process.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.process.is_alive():
            log.error("worker process %s did not stop in time; killing it", self.process.name)
            self.process.kill()  # it ignores SIGTERM (the main process decides when to stop)
        self.process.join(1)
        if self._loop is not None and not self._conn.closed:
            self._loop.remove_reader(self._conn.fileno())
        self._conn.close()
        self.process.close()


# ---------------------------------------------------------------------- child side
def child_main(conn: Connection, settings: Settings, worker: str) -> None:
    """Entry point of a load process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    quiet_gc()
    run_to_end(new_event_loop(), _child(conn, settings, worker))


async def _child(conn: Connection, settings: Settings, worker: str) -> None:
    loop = asyncio.get_running_loop()
    client = bus.connect_async(settings)
    writer = TraceWriter(client, Keys(settings.namespace), worker,
                         shipping=TraceShipping.from_settings(settings))
    engine = Engine(worker, writer.add, GeneratorPolicy.from_settings(settings, worker))
    writer.start()
    stop = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def answer(seq: int, op: str, payload: Any) -> None:
        result = await run_op_safely(engine, op, payload)
        if seq:
            with contextlib.suppress(OSError, ValueError):
                conn.send((seq, *result))

    def on_readable() -> None:
        try:
            while conn.poll():
                msg = conn.recv()
                if msg[0] == "stop":
                    stop.set()
                    return
                _, seq, op, payload = msg
                task = loop.create_task(answer(seq, op, payload))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (EOFError, OSError):  # the main process is gone
            stop.set()

    loop.add_reader(conn.fileno(), on_readable)
    conn.send((-1, True, None, {}, time.time_ns()))
    await stop.wait()
    loop.remove_reader(conn.fileno())
    for task in tasks:  # answers still running (the main process stopped waiting for them)
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await engine.close()
    await writer.close(CHILD_FLUSH_TIMEOUT_S)
    with contextlib.suppress(BusError):
        await client.aclose()
    conn.close()
