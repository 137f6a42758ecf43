"""Running a worker's event loop (main process and load processes) to a clean end: every task
still pending when the main coroutine returns is cancelled and awaited before the loop closes,
so a stop never logs asyncio's "Task was destroyed but it is pending!"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


def run_to_end(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on ``loop``, end the tasks it left behind, close the loop."""
    try:
        loop.run_until_complete(main)
    finally:
        try:
            end_pending_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def end_pending_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel every unfinished task of ``loop`` and wait for them to end (as ``asyncio.run``
    does); the ones found are logged at DEBUG (a clean stop leaves none)."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not pending:
        return
    log.debug("ending %d task(s) left at shutdown: %s", len(pending),
              ", ".join(sorted({getattr(t.get_coro(), "__qualname__", "?") for t in pending})))
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
