"""The recorder: traces and events from Redis Streams into the experiment database.

Run it with ``galileo recorder``; in tests use :meth:`Recorder.drain` (burst mode)."""

from galileo.recorder.recorder import Recorder, RecorderStats

__all__ = ["Recorder", "RecorderStats"]
