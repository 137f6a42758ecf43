"""``TraceWriter.close()`` ends even when the writer is woken at the moment it is cancelled.
On Python 3.11 ``asyncio.wait_for`` loses a cancellation that arrives as its event is set; the
writer's loop then ran on and a balancer's SIGTERM hung (seen in CI). Real Redis."""

from __future__ import annotations

import asyncio

from galileo import bus
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.worker.traces import TraceWriter

ROUNDS = 200


def test_close_ends_when_the_wake_up_and_the_cancel_coincide(settings: Settings) -> None:
    async def scenario() -> int:
        client = bus.connect_async(settings)
        hung = 0
        try:
            for rnd in range(ROUNDS):
                writer = TraceWriter(client, Keys(settings.namespace), "w")
                writer.start()
                for _ in range(rnd % 3):  # let the loop reach its wait, at varying depths
                    await asyncio.sleep(0)
                writer._wake.set()  # the race needs both at once
                task = writer._task
                assert task is not None
                task.cancel()
                await asyncio.wait([task], timeout=1.0)
                if not task.done():  # the cancellation was lost: the loop runs on
                    hung = rnd + 1
                    writer._wake.set()
                    task.cancel()
                    await asyncio.wait([task], timeout=2.0)
                    break
        finally:
            await client.aclose()
        return hung

    assert asyncio.run(scenario()) == 0, "close() hung (round number above)"
