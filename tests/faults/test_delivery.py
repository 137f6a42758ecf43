"""Delivery confirmation of trace entries (galileo.worker.delivery) on a real Redis."""

from __future__ import annotations

import asyncio

from galileo import bus
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.worker.delivery import Unconfirmed


def test_recorded_entries_are_forgotten_and_lost_ones_resent(settings: Settings) -> None:
    keys = Keys(settings.namespace)

    async def main() -> None:
        client = bus.connect_async(settings)
        try:
            await client.set(keys.epoch, "e1")
            pending = Unconfirmed(client, keys.epoch, "test")
            ids = [await client.xadd(keys.traces, {b"b": f"batch{i}".encode()})
                   for i in range(3)]
            for i, entry_id in enumerate(ids):
                pending.add(entry_id, f"batch{i}".encode(), 10, b"e1")
            await client.xdel(keys.traces, ids[0])  # the recorder took batch0
            assert await pending.check(keys.traces, now=1.0) == []
            assert pending.traces == 20  # batch0 forgotten, 1 and 2 still awaited
            await client.delete(keys.traces, keys.epoch)  # Redis restarted empty ...
            await client.set(keys.epoch, "e2")  # ... and the keeper set a new epoch
            resend = await pending.check(keys.traces, now=2.0)
            assert resend == [(b"batch1", 10), (b"batch2", 10)] and pending.traces == 0
            late = await client.xadd(keys.traces, {b"b": b"x"})
            pending.add(late, b"x", 5, None)  # written before any epoch was seen
            assert await pending.check(keys.traces, now=3.0) == [] and pending.traces == 5
        finally:
            await client.aclose()

    asyncio.run(main())
