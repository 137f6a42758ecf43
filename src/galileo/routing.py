"""The live routing table: which hosts serve a service, with which weights.

Each change writes the record (``SET keys.rtbl(service)``), the service set, announces the
change on ``keys.rtbl_updates`` and appends a ROUTING_SET/ROUTING_REMOVE event -- in one
transaction, after validation, so an invalid record writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from galileo.bus import Bus, transact
from galileo.errors import BusError, NotFoundError, ValidationError
from galileo.events import EventLog, as_bytes
from galileo.protocol import (
    EventKind,
    Keys,
    RoutingRecord,
    decode_routing_record,
    encode,
    valid_members,
)
from galileo.tables import Table


def parse_hosts(hosts: str | Sequence[str]) -> list[str]:
    """``'h1:8080,h2:8080'`` or a list -> list of hosts (blanks dropped)."""
    items = hosts.split(",") if isinstance(hosts, str) else list(hosts)
    return [h.strip() if isinstance(h, str) else h for h in items
            if not (isinstance(h, str) and not h.strip())]


def parse_weights(weights: str | Sequence[float] | None, n: int, service: str) -> list[float]:
    """``'1,2'`` or a list -> floats; ``None`` -> all ones."""
    if weights is None:
        return [1.0] * n
    items: list[Any] = weights.split(",") if isinstance(weights, str) else list(weights)
    out: list[float] = []
    for w in items:
        try:
            out.append(float(w.strip() if isinstance(w, str) else w))
        except (TypeError, ValueError):
            raise ValidationError(
                f"routing record for {service!r}: weight {w!r} is not a number") from None
    return out


class RoutingTable:
    """Read and change routing records (``g.rtbl``)."""

    def __init__(self, client: Bus, keys: Keys, events: EventLog | None = None) -> None:
        self._r = client
        self._keys = keys
        self._events = events or EventLog(client, keys)

    # ------------------------------------------------------------------ changes
    def set(self, service: str, hosts: str | Sequence[str],
            weights: str | Sequence[float] | None = None) -> RoutingRecord:
        """Route ``service`` to ``hosts`` with ``weights`` (default equal); returns the record."""
        host_list = parse_hosts(hosts)
        draft = RoutingRecord(service=service, hosts=host_list,
                              weights=parse_weights(weights, len(host_list), service)).validate()
        key = self._keys.rtbl(service)

        def step(pipe: Any) -> RoutingRecord:
            old = pipe.get(key)
            version = (self._decode(old).version if old else 0) + 1
            record = msgspec.structs.replace(draft, version=version)
            pipe.multi()
            pipe.set(key, encode(record))
            pipe.sadd(self._keys.rtbl_services, service)
            pipe.publish(self._keys.rtbl_updates, service)
            self._events.append(EventKind.ROUTING_SET, service, _record_data(record), pipe=pipe)
            return record

        try:
            return transact(self._r, [key], step, what=f"routing record {service!r}")
        except BusError as e:
            raise BusError(f"cannot write the routing record of {service!r}: {e}") from None

    def remove(self, service: str) -> None:
        """Remove the record of ``service``; ``NotFoundError`` when it has none."""
        key = self._keys.rtbl(service)
        try:
            if not self._r.exists(key):
                raise NotFoundError(f"service {service!r} has no routing record")
            with self._r.pipeline() as pipe:
                pipe.delete(key)
                pipe.srem(self._keys.rtbl_services, service)
                pipe.publish(self._keys.rtbl_updates, service)
                self._events.append(EventKind.ROUTING_REMOVE, service, pipe=pipe)
                pipe.execute()
        except BusError as e:
            raise BusError(f"cannot remove the routing record of {service!r}: {e}") from None

    def clear(self) -> list[str]:
        """Remove every record; returns the services that had one."""
        services = self.services()
        try:
            with self._r.pipeline() as pipe:
                for service in services:
                    pipe.delete(self._keys.rtbl(service))
                    self._events.append(EventKind.ROUTING_REMOVE, service, pipe=pipe)
                pipe.delete(self._keys.rtbl_services)
                pipe.publish(self._keys.rtbl_updates, "*")
                pipe.execute()
        except BusError as e:
            raise BusError(f"cannot clear the routing table: {e}") from None
        return services

    def flush(self) -> int:
        """Announce a full refresh (``*``) so every listener re-reads all records."""
        return int(self._r.publish(self._keys.rtbl_updates, "*"))

    # ------------------------------------------------------------------ reads
    def get(self, service: str) -> RoutingRecord | None:
        """The record of ``service`` or ``None``."""
        raw = self._r.get(self._keys.rtbl(service))
        return self._decode(raw) if raw else None

    def services(self) -> list[str]:
        return valid_members(self._r.smembers(self._keys.rtbl_services), "service",
                             self._keys.rtbl_services)

    def records(self) -> list[RoutingRecord]:
        out = []
        for service in self.services():
            record = self.get(service)
            if record is not None:
                out.append(record)
        return out

    def __contains__(self, service: object) -> bool:
        return isinstance(service, str) and self.get(service) is not None

    # ------------------------------------------------------------------ rendering
    def table(self) -> Table:
        return records_table(self.records())

    def text(self) -> str:
        return records_text(self.records())

    def __repr__(self) -> str:
        return self.text()

    @staticmethod
    def _decode(raw: Any) -> RoutingRecord:
        return decode_routing_record(as_bytes(raw))


def _record_data(record: RoutingRecord) -> dict[str, Any]:
    return {"hosts": list(record.hosts), "weights": list(record.weights),
            "version": record.version}


def _fmt_weight(w: float) -> str:
    return str(int(w)) if float(w).is_integer() else f"{w:g}"


def records_table(records: Sequence[RoutingRecord]) -> Table:
    """A rich table: Service | Hosts | Weights."""
    table = Table(title="routing table")
    for col in ("Service", "Hosts", "Weights"):
        table.add_column(col)
    for r in records:
        table.add_row(r.service, ", ".join(r.hosts), ", ".join(_fmt_weight(w) for w in r.weights))
    return table


def records_text(records: Sequence[RoutingRecord]) -> str:
    """Plain-text rendering with the same columns."""
    rows = [("Service", "Hosts", "Weights")] + [
        (r.service, ",".join(r.hosts), ",".join(_fmt_weight(w) for w in r.weights))
        for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
