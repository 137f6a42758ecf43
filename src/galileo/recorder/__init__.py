"""The recorder: traces and events from Redis Streams into the experiment database.

Run it with ``galileo recorder``; in tests use :meth:`Recorder.drain` (burst mode)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.recorder.recorder import Recorder, RecorderStats

__all__ = ["Recorder", "RecorderStats"]

__getattr__ = lazy_exports(__name__, {
    "Recorder": "galileo.recorder.recorder",
    "RecorderStats": "galileo.recorder.recorder",
})
