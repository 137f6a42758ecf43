"""Optimistic transactions (WATCH / MULTI / EXEC, retried on a conflict) in one place.

A *step* reads the watched keys through the pipeline (in WATCH mode its commands run at once)
and then either returns without writing -- nothing is executed -- or calls ``pipe.multi()`` and
queues its writes; :func:`transact` executes them. When another client changed a watched key in
between, EXEC fails and the whole step runs again on fresh values::

    def bump(pipe):
        n = int(pipe.get(key) or 0) + 1
        pipe.multi()
        pipe.set(key, n)
        return n

    n = bus.transact(client, [key], bump, what=f"counter {key}")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

from galileo.errors import BusConflict

T = TypeVar("T")
MAX_ATTEMPTS: Final = 1000  # conflicts in a row before giving up (a key rewritten in a loop)


def _queued(pipe: Any) -> bool:
    """True once the step called ``pipe.multi()`` (writes are queued for EXEC)."""
    return bool(getattr(pipe, "explicit_transaction", False))


def transact(client: Any, keys: Sequence[str], step: Callable[[Any], T], *, what: str,
             attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``step(pipe)`` with ``keys`` watched until its writes commit; its return value.
    ``BusConflict`` (naming ``what``) after ``attempts`` conflicts in a row."""
    with client.pipeline() as pipe:
        for _ in range(attempts):
            try:
                pipe.watch(*keys)
                result = step(pipe)
                if _queued(pipe):
                    pipe.execute()
                else:
                    pipe.unwatch()
                return result
            except BusConflict:
                pipe.reset()
    raise BusConflict(f"{what}: the watched keys changed {attempts} times in a row")


async def transact_async(client: Any, keys: Sequence[str],
                         step: Callable[[Any], Awaitable[T]], *, what: str,
                         attempts: int = MAX_ATTEMPTS) -> T:
    """:func:`transact` for an :class:`~galileo.bus.AsyncBus` (``step`` is a coroutine)."""
    async with client.pipeline(transaction=True) as pipe:
        for _ in range(attempts):
            try:
                await pipe.watch(*keys)
                result = await step(pipe)
                if _queued(pipe):
                    await pipe.execute()
                else:
                    await pipe.unwatch()
                return result
            except BusConflict:
                await pipe.reset()
    raise BusConflict(f"{what}: the watched keys changed {attempts} times in a row")
