"""Helpers for the worker tests: a worker running in a thread, and a bus speaking the protocol."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import redis

from galileo.load.httpclient import new_event_loop
from galileo.protocol import (
    Command,
    Keys,
    Reply,
    RoutingRecord,
    Trace,
    decode_reply,
    decode_trace_batch,
    encode,
    new_id,
)
from galileo.protocol.trace_wire import is_row_batch
from galileo.settings import Settings
from galileo.worker import Worker


class WorkerThread:
    """A Worker running in-process on its own event loop in a background thread."""

    def __init__(self, settings: Settings, processes: int = 1) -> None:
        self.loop = new_event_loop()
        self.worker = Worker(settings, processes=processes)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> WorkerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.worker.start(), self.loop).result(30)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.worker.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Bus:
    """Test-side helper speaking the protocol directly (the controller is not under test)."""

    def __init__(self, client: redis.Redis, keys: Keys, worker: str) -> None:
        self.client, self.keys, self.worker = client, keys, worker

    def send(self, make: Callable[[str], Command], timeout: float = 10) -> Reply:
        corr = new_id()
        cmd = make(corr)
        assert self.client.publish(self.keys.worker_commands(self.worker), encode(cmd)) == 1
        got = self.client.blpop([self.keys.reply(corr)], timeout=timeout)
        assert got is not None, f"no reply to {cmd!r}"
        return decode_reply(got[1])

    def set_route(self, service: str, hosts: list[str], weights: list[float]) -> None:
        rec = RoutingRecord(service=service, hosts=hosts, weights=weights)
        self.client.set(self.keys.rtbl(service), encode(rec))
        self.client.sadd(self.keys.rtbl_services, service)
        self.client.publish(self.keys.rtbl_updates, service)

    def traces(self) -> list[Trace]:
        out: list[Trace] = []
        for _, fields in self.client.xrange(self.keys.traces):
            assert not is_row_batch(fields[b"b"]), "workers send trace batches in columns"
            out.extend(decode_trace_batch(fields[b"b"]).traces)
        return out

    def wait_traces(self, pred: Callable[[list[Trace]], Any], timeout: float = 5) -> list[Trace]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            traces = self.traces()
            if pred(traces) or time.monotonic() > deadline:
                return traces
            time.sleep(0.05)


