"""How far the recorder is behind: entries waiting per stream, their age, arrival vs ingest.

The recorder deletes each stream entry once it is committed, so a stream's length is exactly
what still waits for the database. :func:`read_backlog` reads, per data stream, the length, the
entries delivered to a recorder but not yet committed (pending), those not yet delivered (the
group's lag), the age of the oldest entry (from its id, against Redis's own clock), and the
count of entries ever added; two readings give the arrival and ingest rates
(:func:`rates`). ``galileo status``, ``galileo health recorder``, the REST API and the recorder's
own threshold events (:class:`BacklogWatch`) all read it from here.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from galileo.bus import Bus
from galileo.errors import BusError
from galileo.protocol import Event, EventKind, Keys, new_event

ALERT_AGE_S: Final = 30.0  # oldest waiting trace entry older than this: the recorder is behind
ALERT_CAP_SHARE: Final = 0.5  # or the traces stream holds half its cap
CLEAR_FACTOR: Final = 0.5  # back under half of both thresholds: caught up


@dataclass(frozen=True)
class StreamBacklog:
    """One stream at one moment (Redis's clock)."""

    name: str  # traces, events, telemetry, lb_traces
    key: str
    entries: int  # waiting for the database (committed entries are deleted)
    pending: int  # read by a recorder, not yet committed
    undelivered: int | None  # not yet read by any recorder (None: Redis < 7 cannot tell)
    oldest_age_s: float | None  # None when empty
    added_total: int | None  # entries ever added (Redis >= 7)
    recorders: int  # consumers in the recorder group
    recorder_idle_s: float | None  # the most recently active recorder's idle time
    at_s: float  # Redis TIME of the reading

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rates:
    arrival_per_s: float | None  # entries added per second
    ingest_per_s: float | None  # entries committed (and deleted) per second

    @property
    def growing(self) -> bool:
        return (self.arrival_per_s is not None and self.ingest_per_s is not None
                and self.arrival_per_s > self.ingest_per_s)


def data_streams(keys: Keys) -> dict[str, str]:
    """Name → key of every stream the recorder drains."""
    return {"traces": keys.traces, "events": keys.events, "telemetry": keys.telemetry,
            "lb_traces": keys.lb_traces}


def _entry_ms(entry_id: bytes | str | None) -> int | None:
    if not entry_id:
        return None
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def read_stream(client: Bus, name: str, key: str) -> StreamBacklog:
    """One stream's backlog. Raises ``BusError``."""
    seconds, micros = client.time()
    now_s = seconds + micros / 1e6
    if not client.exists(key):
        return StreamBacklog(name, key, 0, 0, 0, None, 0, 0, None, now_s)
    info: Any = client.xinfo_stream(key)
    length = int(info["length"])
    first = info.get("first-entry")
    first_ms = _entry_ms(first[0]) if first else None
    group: dict[str, Any] | None = None
    for g in client.xinfo_groups(key):
        gname = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
        if gname == Keys.RECORDER_GROUP:
            group = g
    consumers: list[Any] = (client.xinfo_consumers(key, Keys.RECORDER_GROUP)
                            if group is not None else [])
    idle = [int(c["idle"]) / 1000 for c in consumers]
    lag = group.get("lag") if group is not None else length
    return StreamBacklog(
        name=name, key=key, entries=length,
        pending=int(group["pending"]) if group is not None else 0,
        undelivered=None if lag is None else int(lag),
        oldest_age_s=None if first_ms is None or not length else max(0.0, now_s - first_ms / 1e3),
        added_total=info.get("entries-added"),
        recorders=len(consumers), recorder_idle_s=min(idle) if idle else None, at_s=now_s)


def read_backlog(client: Bus, keys: Keys) -> list[StreamBacklog]:
    """Every data stream's backlog. Raises ``BusError``."""
    return [read_stream(client, name, key) for name, key in data_streams(keys).items()]


def rates(before: StreamBacklog, after: StreamBacklog) -> Rates:
    """Arrival and ingest rates (entries/s) between two readings of one stream."""
    dt = after.at_s - before.at_s
    if dt <= 0 or before.added_total is None or after.added_total is None:
        return Rates(None, None)
    added = after.added_total - before.added_total
    ingested = added - (after.entries - before.entries)
    return Rates(added / dt, max(0.0, ingested) / dt)


def sample(client: Bus, keys: Keys, window_s: float,
           sleep: Any = time.sleep) -> tuple[list[StreamBacklog], list[Rates]]:
    """Two readings ``window_s`` apart: the later backlog and each stream's rates."""
    first = read_backlog(client, keys)
    sleep(window_s)
    second = read_backlog(client, keys)
    return second, [rates(a, b) for a, b in zip(first, second, strict=True)]


def falling_behind(readings: Sequence[StreamBacklog], min_age_s: float) -> str | None:
    """Why the traces stream is falling behind over ``readings`` (oldest first), or None: its
    length grew between every two readings and its oldest entry is at least ``min_age_s`` old."""
    if len(readings) < 2:
        return None
    grew = all(b.entries > a.entries for a, b in itertools.pairwise(readings))
    last = readings[-1]
    if grew and last.oldest_age_s is not None and last.oldest_age_s >= min_age_s:
        dt = last.at_s - readings[0].at_s
        growth = (last.entries - readings[0].entries) / dt if dt > 0 else 0.0
        return (f"the recorder is falling behind on {last.key}: {last.entries} entries waiting, "
                f"oldest {last.oldest_age_s:.0f} s, growing by {growth:.1f} entries/s")
    return None


class BacklogWatch:
    """The recorder's own check: an event when the traces stream crosses the alert thresholds
    (oldest entry older than ``alert_age_s`` or ``ALERT_CAP_SHARE`` of the cap), and one when it
    is back under half of them."""

    def __init__(self, keys: Keys, cap_entries: int, *, alert_age_s: float = ALERT_AGE_S,
                 interval_s: float = 2.0) -> None:
        self.keys = keys
        self.cap_entries = cap_entries
        self.alert_age_s = alert_age_s
        self.interval_s = interval_s
        self.behind = False
        self._last: StreamBacklog | None = None
        self._next = 0.0

    def check(self, client: Bus, now: float | None = None) -> Event | None:
        """Read the traces stream when due; the event to record, if a threshold was crossed."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return None
        self._next = now + self.interval_s
        try:
            reading = read_stream(client, "traces", self.keys.traces)
        except BusError:
            return None  # the recorder's loop reports Redis problems
        last, self._last = self._last, reading
        age = reading.oldest_age_s or 0.0
        share = reading.entries / self.cap_entries
        data: dict[str, Any] = {"entries": reading.entries, "oldest_age_s": round(age, 1),
                                "cap_entries": self.cap_entries, "pending": reading.pending}
        if last is not None:
            r = rates(last, reading)
            data.update(arrival_per_s=r.arrival_per_s, ingest_per_s=r.ingest_per_s)
        if not self.behind and (age >= self.alert_age_s or share >= ALERT_CAP_SHARE):
            self.behind = True
            return new_event(EventKind.RECORDER_BACKLOG, name=reading.key, data=data)
        if self.behind and age < self.alert_age_s * CLEAR_FACTOR and \
                share < ALERT_CAP_SHARE * CLEAR_FACTOR:
            self.behind = False
            return new_event(EventKind.RECORDER_CAUGHT_UP, name=reading.key, data=data)
        return None
