"""``bus.transact`` / ``bus.transact_async`` against real Redis with a real concurrent writer:
no update is lost, a step that writes nothing executes nothing, endless conflicts end in
``BusConflict``."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from galileo import bus
from galileo.errors import BusConflict
from galileo.settings import Settings

ROUNDS = 100


def _hammer(settings: Settings, key: str, stop: threading.Event) -> list[int]:
    """Start a thread that INCRs ``key`` on its own connection (about every 0.5 ms) until
    ``stop``; its count."""
    done = [0]

    def run() -> None:
        client = bus.connect(settings)
        try:
            while not stop.wait(0.0005):
                client.incr(key)
                done[0] += 1
        finally:
            client.close()

    threading.Thread(target=run, daemon=True).start()
    return done


def test_read_modify_write_loses_nothing_beside_a_concurrent_writer(
        settings: Settings, namespace: str) -> None:
    client = bus.connect(settings)
    key = f"{namespace}:counter"
    client.set(key, 0)
    attempts = [0]

    def add_one(pipe: Any) -> int:
        attempts[0] += 1
        value = int(pipe.get(key)) + 1
        pipe.multi()
        pipe.set(key, value)
        return value

    stop = threading.Event()
    other = _hammer(settings, key, stop)
    try:
        for _ in range(ROUNDS):
            bus.transact(client, [key], add_one, what="counter")
    finally:
        stop.set()
    for _ in range(100):  # let the writer's last INCR land
        before = int(client.get(key))
        threading.Event().wait(0.01)
        if int(client.get(key)) == before:
            break
    assert int(client.get(key)) == ROUNDS + other[0]  # no increment of either side lost
    assert attempts[0] > ROUNDS  # the writer did force retries
    client.close()


def test_a_step_that_writes_nothing_executes_nothing(settings: Settings,
                                                     namespace: str) -> None:
    client = bus.connect(settings)
    key = f"{namespace}:flag"
    client.set(key, "a")
    assert bus.transact(client, [key], lambda pipe: pipe.get(key), what="flag") == b"a"
    client.set(key, "b")  # not refused: the WATCH was released
    assert client.get(key) == b"b"
    client.close()


def test_endless_conflicts_end_in_bus_conflict(settings: Settings, namespace: str) -> None:
    client, other = bus.connect(settings), bus.connect(settings)
    key = f"{namespace}:busy"

    def step(pipe: Any) -> None:
        pipe.get(key)
        other.incr(key)  # someone else writes between our read and our EXEC, every time
        pipe.multi()
        pipe.set(key, 0)

    with pytest.raises(BusConflict, match="busy thing: the watched keys changed 5 times"):
        bus.transact(client, [key], step, what="busy thing", attempts=5)
    assert int(client.get(key)) == 5
    client.close()
    other.close()


def test_async_read_modify_write_loses_nothing(settings: Settings, namespace: str) -> None:
    key = f"{namespace}:acounter"

    async def main() -> tuple[int, int]:
        client = bus.connect_async(settings)
        await client.set(key, 0)

        async def add_one(pipe: Any) -> None:
            value = int(await pipe.get(key)) + 1
            await asyncio.sleep(0)  # let the other tasks interleave
            pipe.multi()
            pipe.set(key, value)

        async def worker() -> None:
            for _ in range(ROUNDS // 4):
                await bus.transact_async(client, [key], add_one, what="counter")

        async def writer() -> int:
            n = 0
            for _ in range(ROUNDS // 2):
                await client.incr(key)
                n += 1
                await asyncio.sleep(0)
            return n

        results = await asyncio.gather(*(worker() for _ in range(4)), writer())
        total = int(await client.get(key))
        await client.aclose()
        return total, int(results[-1])  # type: ignore[arg-type]

    total, written = asyncio.run(main())
    assert total == ROUNDS + written
