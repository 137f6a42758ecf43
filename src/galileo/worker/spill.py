"""A worker's local trace backlog: encoded batches in memory, then in a spill file on disk.

When traces cannot go to Redis -- the bus is unreachable, or the traces stream holds as many
entries as the configured cap (``galileo_trace_backlog_max_entries``) because the recorder is
slow or down -- a worker keeps them here instead of letting Redis run out of memory:

* first in memory, up to ``memory_bytes`` of encoded batches;
* then appended to a spill file (``<spill_dir>/<worker>/<pid>.spill``) up to ``spill_bytes``;
* past both, a new batch is **dropped and counted** (logged, and reported as an event by the
  trace writer): the one limit where a trace can be lost, stated and visible.

Order is first in, first out across both tiers: once anything is on disk, new batches go to disk
behind it, and memory is refilled from the head of the file as it drains. A file left by a
worker process that died (its ``flock`` is free) is adopted by the next writer of the same worker
and delivered; a batch re-sent that way after a crash is stored once (traces carry request ids).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

log = logging.getLogger(__name__)

_HEADER: Final = struct.Struct("<II")  # payload length, traces in the batch
SPILL_SUFFIX: Final = ".spill"


@dataclass(frozen=True, kw_only=True)
class BacklogLimits:
    """How much a trace writer may keep locally (see the module docstring)."""

    memory_bytes: int = 64 * 2**20
    spill_dir: Path | None = None  # None: no spill file, drop past the memory bound
    spill_bytes: int = 1024 * 2**20


class SpillFile:
    """An append-only file of ``(payload, traces)`` records read back from the front."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: BinaryIO = open(path, "a+b")  # noqa: SIM115 (kept open, closed in close())
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another live process owns this file
            self._file.close()
            raise
        self._read_at = 0
        self.records = 0
        self.traces = 0
        self._file.seek(0, os.SEEK_END)
        self.size = self._file.tell()

    @property
    def bytes_waiting(self) -> int:
        return self.size - self._read_at

    def append(self, data: bytes, traces: int) -> None:
        self._file.seek(0, os.SEEK_END)
        self._file.write(_HEADER.pack(len(data), traces) + data)
        self._file.flush()
        self.size += _HEADER.size + len(data)
        self.records += 1
        self.traces += traces

    def pop(self) -> tuple[bytes, int] | None:
        """The oldest record, or None when the file is drained (it is then truncated)."""
        if self._read_at >= self.size:
            self._reset()
            return None
        self._file.seek(self._read_at)
        header = self._file.read(_HEADER.size)
        if len(header) < _HEADER.size:
            self._torn()
            return None
        length, traces = _HEADER.unpack(header)
        data = self._file.read(length)
        if len(data) < length:
            self._torn()
            return None
        self._read_at += _HEADER.size + length
        self.records -= 1
        self.traces -= traces
        if self._read_at >= self.size:
            self._reset()
        return data, traces

    def _torn(self) -> None:
        log.error("spill file %s ends in a torn record (the process died while writing it); "
                  "its last %d bytes are skipped", self.path, self.size - self._read_at)
        self._reset()

    def _reset(self) -> None:
        self._file.truncate(0)
        self._read_at = self.size = self.records = self.traces = 0

    def scan(self) -> None:
        """Count the records of a file written by an earlier process (adopted on start)."""
        self._file.seek(0)
        offset = 0
        while offset + _HEADER.size <= self.size:
            length, traces = _HEADER.unpack(self._file.read(_HEADER.size))
            if offset + _HEADER.size + length > self.size:
                break
            self._file.seek(length, os.SEEK_CUR)
            offset += _HEADER.size + length
            self.records += 1
            self.traces += traces

    def close(self, *, remove: bool) -> None:
        with contextlib.suppress(OSError):
            if remove and self.size == 0:
                self.path.unlink()
        self._file.close()


class Backlog:
    """The local backlog of one trace writer: memory first, then the spill file."""

    def __init__(self, limits: BacklogLimits, worker: str) -> None:
        self.limits = limits
        self._worker = worker
        self._memory: deque[tuple[bytes, int]] = deque()
        self._memory_bytes = 0
        self._spill: SpillFile | None = None
        self.memory_traces = 0
        self.spilled_total = 0  # traces ever written to the spill file
        self.dropped = 0  # traces dropped because memory and spill file were full
        self.adopted = 0  # traces found in files left by dead processes

    # ------------------------------------------------------------------ sizes
    @property
    def traces(self) -> int:
        return self.memory_traces + (self._spill.traces if self._spill else 0)

    @property
    def spilled(self) -> int:
        """Traces waiting in the spill file now."""
        return self._spill.traces if self._spill else 0

    def __bool__(self) -> bool:
        return bool(self._memory) or bool(self._spill and self._spill.records)

    # ------------------------------------------------------------------ queue
    def push(self, data: bytes, traces: int) -> bool:
        """Append one batch; False when it was dropped (both tiers full)."""
        if not self.spilled and self._memory_bytes + len(data) <= self.limits.memory_bytes:
            self._push_memory(data, traces)
            return True
        if self.limits.spill_dir is None:
            if not self._memory:  # a batch larger than the bound still goes through alone
                self._push_memory(data, traces)
                return True
            self.dropped += traces
            return False
        spill = self._spill_file()
        if spill is None or spill.bytes_waiting + len(data) > self.limits.spill_bytes:
            self.dropped += traces
            return False
        spill.append(data, traces)
        self.spilled_total += traces
        return True

    def push_front(self, data: bytes, traces: int) -> None:
        """Put a batch back at the head (re-sent after a Redis restart): memory, unbounded."""
        self._memory.appendleft((data, traces))
        self._memory_bytes += len(data)
        self.memory_traces += traces

    def head(self, count: int) -> list[tuple[bytes, int]]:
        """Up to ``count`` oldest batches (refilling memory from the spill file)."""
        self._refill()
        return [self._memory[i] for i in range(min(count, len(self._memory)))]

    def pop(self, count: int) -> None:
        """Remove the ``count`` oldest batches (they were written)."""
        for _ in range(count):
            data, traces = self._memory.popleft()
            self._memory_bytes -= len(data)
            self.memory_traces -= traces

    def _push_memory(self, data: bytes, traces: int) -> None:
        self._memory.append((data, traces))
        self._memory_bytes += len(data)
        self.memory_traces += traces

    def _refill(self) -> None:
        spill = self._spill
        while spill is not None and spill.records and self._memory_bytes < self.limits.memory_bytes:
            record = spill.pop()
            if record is None:
                break
            self._push_memory(*record)

    # ------------------------------------------------------------------ files
    def _spill_file(self) -> SpillFile | None:
        if self._spill is None:
            directory = self._directory()
            assert directory is not None
            try:
                self._spill = SpillFile(directory / f"{os.getpid()}{SPILL_SUFFIX}")
            except OSError as e:
                log.error("worker %s: cannot open a spill file in %s (%s); traces past the "
                          "memory bound are dropped", self._worker, directory, e)
                return None
        return self._spill

    def _directory(self) -> Path | None:
        if self.limits.spill_dir is None:
            return None
        return self.limits.spill_dir / self._worker

    def adopt_orphans(self) -> int:
        """Take over spill files of this worker left by processes that died; traces found."""
        directory = self._directory()
        if directory is None or not directory.is_dir():
            return 0
        found = 0
        for path in sorted(directory.glob(f"*{SPILL_SUFFIX}")):
            if self._spill is not None and path == self._spill.path:
                continue
            try:
                orphan = SpillFile(path)
            except OSError:  # locked: a live process owns it
                continue
            orphan.scan()
            while (record := orphan.pop()) is not None:
                data, traces = record
                if self.push(data, traces):
                    found += traces
            orphan.close(remove=True)
        if found:
            log.warning("worker %s: delivering %d traces from spill files left by an earlier "
                        "process", self._worker, found)
        self.adopted += found
        return found

    def close(self) -> int:
        """Release the spill file. Batches still in memory are appended to it first, so the next
        process of this worker delivers them; returns the traces that could not be kept."""
        kept = 0
        if self._memory and self.limits.spill_dir is not None:
            spill = self._spill_file()
            while spill is not None and self._memory:
                data, traces = self._memory.popleft()
                spill.append(data, traces)
                kept += traces
            self._memory_bytes = 0
            self.memory_traces = 0
            if kept:
                log.warning("worker %s: %d traces not yet delivered are kept in %s for the next "
                            "start", self._worker, kept, spill.path if spill else "?")
        lost = self.memory_traces
        if self._spill is not None:
            self._spill.close(remove=True)
            self._spill = None
        return lost
