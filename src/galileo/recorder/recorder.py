"""The recorder: Redis Streams (traces, events) → experiment database, losslessly.

Each pass (:meth:`Recorder.run_once`) reads, in this order, the entries still pending for this
consumer (a previous pass failed to write them), entries idle for ``claim_idle_s`` in a dead
consumer's list (``XAUTOCLAIM``), and new entries (``XREADGROUP >``). What one read brought is
written in ONE database transaction; only after the commit are the entries acknowledged and
deleted (``XACK`` + ``XDEL``). On a database server (not SQLite), :meth:`Recorder.run` and
:meth:`Recorder.drain` pipeline this: one writer thread writes and acknowledges a read while
the loop reads and decodes the next one (so the recorder's own CPU overlaps the database's and
Redis's time); the own-pending read is made only when no write is in flight, so a batch is
never taken twice while being written.
Several recorders share the streams through one consumer group: each entry goes to one of
them, and a dead one's entries are claimed by the others after ``claim_idle_s``. A crash
between commit and ack replays the entries later, which is harmless: traces are keyed by
``request_id`` and events by their stream entry id. A malformed entry is logged with its id,
counted, acknowledged and deleted so that it never blocks the stream.

Experiment events keep the ``experiments`` table current (start → RUNNING, stop → FINISHED).
A trace is filed under the experiment id it was tagged with when it was sent, and nothing else:
never by a time window or by the cluster's "current experiment" marker (a window can stay open
when a stop is lost, and would then swallow other experiments' traces). A trace sent with no
experiment is stored with none (NULL). Telemetry batches without an experiment id are still
attributed by closed-or-open experiment windows (see ``telemetry.window_experiment``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from galileo import bus
from galileo.bus import Bus
from galileo.errors import BusError, BusUnavailable, StorageError
from galileo.protocol import Event, EventField, EventKind, Keys, encode
from galileo.recorder._entries import LB_TRACES, Batch, RawEntry
from galileo.recorder.backlog import BacklogWatch
from galileo.recorder.telemetry import TELEMETRY_KIND, TelemBridge, TelemetryWriter
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus, Transaction

log = logging.getLogger(__name__)

CLAIM_IDLE_S: Final = 5.0  # pending this long in another consumer: taken over (replay is harmless)
CLAIM_CHECK_INTERVAL_S: Final = 1.0
READ_COUNT: Final = 20  # entries per stream per read (a trace entry holds up to 500 traces)
RUN_BLOCK_MS: Final = 1000
BACKOFF_MIN_S: Final = 0.2
BACKOFF_MAX_S: Final = 1.0  # reconnect at least once a second: recovery after an outage is quick
REPORT_INTERVAL_S: Final = 10.0
KNOWN_WINDOWS: Final = 32  # experiment time windows remembered for tagging telemetry


@dataclass
class RecorderStats:
    entries: int = 0
    traces_written: int = 0
    traces_duplicate: int = 0
    lb_traces_written: int = 0  # attempted (replays are ignored by the db)
    events_written: int = 0
    malformed: int = 0  # entries skipped
    dropped_traces: int = 0  # traces in good entries that did not fit the schema
    telemetry_written: int = 0  # telemetry samples attempted (replays are ignored by the db)


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Recorder:
    """Moves traces and events from the bus into the experiment database."""

    def __init__(self, settings: Settings, expdb: ExpDB | None = None,
                 consumer: str | None = None, *, claim_idle_s: float = CLAIM_IDLE_S,
                 read_count: int = READ_COUNT) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.consumer = consumer or default_consumer_name()
        self.claim_idle_s = claim_idle_s
        self.read_count = read_count
        self.stats = RecorderStats()
        self._expdb = expdb
        self._owns_expdb = expdb is None
        self._redis: Bus | None = None
        self._groups_ready = False
        self._next_claim = 0.0
        self._inflight: Future[int] | None = None  # the write running beside the next read
        self._windows: dict[str, list[int | None]] | None = None  # exp_id -> [start, end]
        self._streams = {self.keys.events: "events", self.keys.traces: "traces",
                         self.keys.telemetry: TELEMETRY_KIND, self.keys.lb_traces: LB_TRACES}
        self._telemetry = TelemetryWriter(self.keys)
        self.watch = BacklogWatch(self.keys, settings.trace_backlog_max_entries)

    # ------------------------------------------------------------------ connections
    @property
    def expdb(self) -> ExpDB:
        if self._expdb is None:
            self._expdb = ExpDB.from_settings(self.settings)
        return self._expdb

    def _client(self) -> Bus:
        if self._redis is None:
            self._redis = bus.connect(self.settings)
        return self._redis

    def close(self) -> None:
        """Close the Redis client and (if this recorder opened it) the database."""
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        if self._owns_expdb and self._expdb is not None:
            self._expdb.close()
            self._expdb = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_groups(self, client: Bus) -> None:
        if self._groups_ready:
            return
        for stream in self._streams:
            try:
                client.xgroup_create(stream, Keys.RECORDER_GROUP, id="0", mkstream=True)
            except BusUnavailable:
                raise
            except BusError as e:
                if "BUSYGROUP" not in str(e):
                    raise
        self._groups_ready = True

    # ------------------------------------------------------------------ one pass
    def run_once(self, block_ms: int = 0) -> int:
        """Process what is available (waiting up to ``block_ms`` for new entries, 0 = not at
        all); return the number of stream entries handled. Raises ``BusError``/``StorageError``
        (nothing is acknowledged then: the entries are retried by the next pass)."""
        with self._bus_errors():
            client = self._client()
            return sum(self._commit(client, batch)
                       for batch in self._reads(client, block_ms, own_pending=True))

    def drain(self) -> int:
        """Burst mode: process everything available now and return the entries handled
        (pipelined like :meth:`run`: the next read is decoded while the last one is written)."""
        total = 0
        with _writer() as pool:
            while True:
                complete = self._inflight is None  # this pass reads own pending entries too
                committed, read = self._step(pool, 0)
                total += committed
                if not read and complete:
                    return total

    def _step(self, pool: ThreadPoolExecutor, block_ms: int) -> tuple[int, int]:
        """One pipelined pass: read and decode the next entries while the previous batches are
        written in ``pool``, wait for that write, then hand it the new batches. Returns (entries
        the finished write committed, entries just read). After an error no write is in flight;
        entries read but not written stay pending and are retried (own pending entries are read
        only when no write is in flight, so a batch is never read twice while being written;
        the same holds for claims: a claim pass first waits for the write in flight, else
        ``XAUTOCLAIM`` could hand this consumer its own entries being written)."""
        with self._bus_errors():  # entered first, left last: no write in flight by then
            try:
                committed = 0
                if self._inflight is not None and time.monotonic() >= self._next_claim:
                    committed = self._settle()
                client = self._client()
                batches = self._reads(client, block_ms, own_pending=self._inflight is None)
            except BaseException:
                self._settle_quietly()
                raise
            committed += self._settle()
            if batches and not self._pipelined:
                committed += self._commit_all(client, batches)
            elif batches:
                self._inflight = pool.submit(self._commit_all, client, batches)
        return committed, sum(b.entries for b in batches)

    def _settle(self) -> int:
        """Wait for the write in flight (if any): the entries it committed, or its error."""
        inflight, self._inflight = self._inflight, None
        return 0 if inflight is None else inflight.result()

    def _settle_quietly(self) -> None:
        try:
            self._settle()
        except Exception as e:  # another error is on its way up; this one is only logged
            log.warning("write of the previous read failed too: %s", e)

    @contextlib.contextmanager
    def _bus_errors(self) -> Iterator[None]:
        """Unreachable Redis: drop the client (reconnect next pass); a deleted stream or group
        (Redis restarted empty): recreate the groups next pass."""
        try:
            yield
        except BusUnavailable:
            self._drop_client()
            raise
        except BusError as e:
            if "NOGROUP" in str(e):
                self._groups_ready = False
            raise

    def _drop_client(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        self._groups_ready = False

    def _reads(self, client: Bus, block_ms: int, *, own_pending: bool) -> list[Batch]:
        """The decoded batches of one pass: this consumer's pending entries (``own_pending``),
        entries a dead consumer left idle (``XAUTOCLAIM``, once per check interval), then new
        entries (waiting up to ``block_ms``)."""
        self._ensure_groups(client)
        batches = []
        if own_pending:
            batches.append(self._decode(self._read(client, "0", None)))
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + min(CLAIM_CHECK_INTERVAL_S, self.claim_idle_s)
            batches.append(self._decode(self._claim(client)))
        batches.append(self._decode(self._read(client, ">", block_ms or None)))
        return [b for b in batches if b.entries]

    def _read(self, client: Bus, start: str,
              block_ms: int | None) -> Iterator[tuple[str, list[RawEntry]]]:
        streams: dict[Any, Any] = dict.fromkeys(self._streams, start)
        reply: Any = client.xreadgroup(Keys.RECORDER_GROUP, self.consumer, streams,
                                       count=self.read_count, block=block_ms)
        for stream, entries in reply or []:
            yield (stream.decode() if isinstance(stream, bytes) else stream), entries

    def _claim(self, client: Bus) -> Iterator[tuple[str, list[RawEntry]]]:
        idle_ms = int(self.claim_idle_s * 1000)
        for stream in self._streams:
            reply: Any = client.xautoclaim(stream, Keys.RECORDER_GROUP, self.consumer, idle_ms,
                                           start_id="0-0", count=self.read_count)
            entries = reply[1] if reply else []
            if entries:
                log.info("claimed %d stale entries of %s", len(entries), stream)
                yield stream, entries

    def _decode(self, reads: Iterator[tuple[str, list[RawEntry]]]) -> Batch:
        batch = Batch()
        for stream, entries in sorted(reads, key=lambda r: self._streams[r[0]] != "events"):
            batch.add(self._streams[stream], stream, entries)
        return batch

    def _commit_all(self, client: Bus, batches: list[Batch]) -> int:
        return sum(self._commit(client, batch) for batch in batches)

    def _commit(self, client: Bus, batch: Batch) -> int:
        """Write ``batch`` in one transaction, then acknowledge and delete its entries."""
        if batch.malformed:
            self._acknowledge(client, batch.malformed)
            self.stats.malformed += sum(map(len, batch.malformed.values()))
        if batch.done:
            self._write(batch)
            self._acknowledge(client, batch.done)
        self.stats.entries += batch.entries
        return batch.entries

    def _acknowledge(self, client: Bus, ids: dict[str, list[bytes]]) -> None:
        pipe = client.pipeline(transaction=False)
        for stream, entry_ids in ids.items():
            if entry_ids:
                pipe.xack(stream, Keys.RECORDER_GROUP, *entry_ids)
                pipe.xdel(stream, *entry_ids)
        pipe.execute()

    # ------------------------------------------------------------------ database
    @property
    def _pipelined(self) -> bool:
        """Writes overlap the next read when the database is a server. SQLite writes in this
        process, holding the GIL: a writer thread only adds switching (measured slower)."""
        return self.expdb.runtime is not None or self.expdb.dialect != "sqlite"

    def _write(self, batch: Batch) -> None:
        windows = self._known_windows()
        with self.expdb.transaction() as tx:
            for _, event in batch.events:
                _apply_experiment_event(tx, event, windows)
            events_written = tx.insert_events([e for _, e in batch.events],
                                              [s for s, _ in batch.events])
            traces = batch.traces
            written = tx.insert_trace_rows(traces)
            tx.insert_lb_traces(batch.lb_traces)
            self._write_telemetry(tx, batch, windows)
        self.stats.events_written += events_written
        self.stats.traces_written += written
        self.stats.traces_duplicate += len(traces) - written
        self.stats.lb_traces_written += len(batch.lb_traces)
        self.stats.dropped_traces += batch.dropped_traces
        while len(windows) > KNOWN_WINDOWS:
            windows.pop(next(iter(windows)))

    def _write_telemetry(self, tx: Transaction, batch: Batch,
                         windows: dict[str, list[int | None]]) -> None:
        """Telemetry samples and, for experiments starting now, every known node's info."""
        starts = [e.exp_id for _, e in batch.events
                  if e.kind == EventKind.EXPERIMENT_START and e.exp_id]
        if not batch.telemetry and not starts:
            return
        client = self._client()
        for exp_id in starts:
            self._telemetry.record_nodes(tx, client, exp_id)
        self.stats.telemetry_written += self._telemetry.write(tx, client, batch.telemetry,
                                                              windows)

    def _known_windows(self) -> dict[str, list[int | None]]:
        if self._windows is None:
            running = self.expdb.list_experiments(status=ExperimentStatus.RUNNING)
            self._windows = {e.id: [int((e.start or e.created) * 1e9), None] for e in running}
        return self._windows

    # ------------------------------------------------------------------ forever
    def run(self, stop: threading.Event, *, block_ms: int = RUN_BLOCK_MS,
            report_interval_s: float = REPORT_INTERVAL_S, bridge_telem: bool = True) -> None:
        """Record until ``stop`` is set; unreachable Redis or database → log, back off, retry.
        With ``bridge_telem``, samples of a seed (Go) telemd on ``telem/…`` are taken too."""
        bridge = _start_bridge(self.settings) if bridge_telem else None
        try:
            with bus.stop_guard(stop, lambda: self._redis, what=f"recorder {self.consumer}"):
                self._run(stop, block_ms, report_interval_s)
        finally:
            if bridge is not None:
                bridge.close()

    def _run(self, stop: threading.Event, block_ms: int, report_interval_s: float) -> None:
        where = self._expdb.redacted_url if self._expdb else self.settings.redacted_expdb_url()
        log.info("recorder %s: %s, %s → %s", self.consumer, self.keys.traces, self.keys.events,
                 where)
        with _writer() as pool:
            try:
                self._loop(stop, pool, block_ms, report_interval_s)
            finally:
                self._settle_quietly()
        log.info("recorder %s stopped: %s", self.consumer, self.stats)

    def _loop(self, stop: threading.Event, pool: ThreadPoolExecutor, block_ms: int,
              report_interval_s: float) -> None:
        backoff = BACKOFF_MIN_S
        next_report = time.monotonic() + report_interval_s
        last = RecorderStats()
        while not stop.is_set():
            try:
                self._check_backlog()
                self._step(pool, block_ms)
                backoff = BACKOFF_MIN_S
            except (BusError, StorageError) as e:
                log.warning("%s; retrying in %.1f s", e, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            except Exception:  # never crash: log with traceback, back off, retry
                log.exception("recorder pass failed; retrying in %.1f s", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            if time.monotonic() >= next_report:
                last = self._report(last, report_interval_s)
                next_report = time.monotonic() + report_interval_s

    def _check_backlog(self) -> None:
        """An event when the traces backlog crosses the alert thresholds (or clears them)."""
        client = self._client()
        event = self.watch.check(client)
        if event is not None:
            log.warning("%s: %s", event.kind.value, event.data)
            client.xadd(self.keys.events, {EventField: encode(event)})

    def _report(self, last: RecorderStats, interval_s: float) -> RecorderStats:
        s = self.stats
        log.info("recorded %d traces (%.0f/s), %d events, %d duplicates, %d malformed entries",
                 s.traces_written, (s.traces_written - last.traces_written) / interval_s,
                 s.events_written, s.traces_duplicate, s.malformed)
        return RecorderStats(**vars(s))


def _start_bridge(settings: Settings) -> TelemBridge | None:
    try:
        return TelemBridge(settings).start()
    except BusError as e:  # the recorder's own loop reports and retries Redis problems
        log.warning("Galileo 0.x telemetry topics (telem/…) not bridged: %s", e)
        return None


def _apply_experiment_event(tx: Transaction, event: Event,
                            windows: dict[str, list[int | None]]) -> None:
    """Keep the experiments row in step with a start/stop event (idempotent on replay)."""
    if event.kind not in (EventKind.EXPERIMENT_START, EventKind.EXPERIMENT_STOP):
        return
    if not event.exp_id:
        log.warning("%s event without exp_id ignored for the experiments table", event.kind)
        return
    at = event.ts_ns / 1e9
    if event.kind == EventKind.EXPERIMENT_START:  # merged: any order with its stop, any replay
        tx.record_start(event.exp_id, at=at, name=str(event.data.get("name") or ""),
                        creator=str(event.data.get("creator") or ""))
        window = windows.get(event.exp_id)
        windows[event.exp_id] = [event.ts_ns, None if window is None else window[1]]
        return
    status = _terminal_status(event.data.get("status"))
    message = event.data.get("message")
    tx.record_stop(event.exp_id, status, at=at,
                   message=None if message is None else str(message))
    windows.setdefault(event.exp_id, [None, None])[1] = event.ts_ns


def _terminal_status(value: object) -> ExperimentStatus:
    try:
        status = ExperimentStatus(str(value).upper())
    except ValueError:
        return ExperimentStatus.FINISHED
    return status if status not in (ExperimentStatus.QUEUED, ExperimentStatus.RUNNING) else (
        ExperimentStatus.FINISHED)


def _writer() -> ThreadPoolExecutor:
    """The one thread that writes and acknowledges while the caller reads the next entries."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder-write")
