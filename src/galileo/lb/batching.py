"""Writes held until the event loop has handled every ready event, then sent together.

On a busy balancer one pass of the event loop handles many reads (tens at full load). Sending
each answer as it is made wakes the peer (client or backend) for every write; holding the
writes of one pass and sending them at its end wakes each peer once per pass and lets the
kernel's wake-ups find it already running. At low load a pass holds one event, so a write
waits for nothing but the rest of its own callback.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["Flushable", "HeldWrites", "WriteBatch"]


class Flushable(Protocol):
    def flush(self) -> None: ...


class HeldWrites:
    """A connection whose writes of one pass are held in ``_out`` (the subclass appends to it
    and registers with its :class:`WriteBatch`) and sent together by :meth:`flush`."""

    __slots__ = ()
    transport: asyncio.Transport | None
    _out: list[bytes]

    def flush(self) -> None:
        """Send what was written in this loop pass in one ``write`` (called by the batch)."""
        out = self._out
        if out:
            if self.transport is not None:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()


class WriteBatch:
    """Connections with held writes; :meth:`flush_all` runs once per loop pass (call_soon)."""

    __slots__ = ("_dirty", "_loop")

    def __init__(self) -> None:
        self._dirty: list[Flushable] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, conn: Flushable) -> None:
        """``conn`` holds writes: flush it at the end of this loop pass."""
        if not self._dirty:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self.flush_all)
        self._dirty.append(conn)

    def flush_all(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()
