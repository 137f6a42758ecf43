"""Append :class:`~galileo.protocol.Event` entries to the events stream (the recorder stores
them), and small helpers for Redis reply values."""

from __future__ import annotations

from typing import Any

from galileo.bus import Bus
from galileo.errors import BusError
from galileo.protocol import Event, EventField, EventKind, Keys, encode, new_event


class EventLog:
    """Writes events tagged with an experiment: the one named per call, else this log's own
    (``exp_id``: a controller acting for one experiment), else the cluster's marker."""

    def __init__(self, client: Bus, keys: Keys, exp_id: str | None = None) -> None:
        self._r = client
        self._keys = keys
        self.exp_id = exp_id

    def current_experiment(self) -> str | None:
        value = self._r.get(self._keys.current_experiment)
        return value.decode() if isinstance(value, bytes) else None

    def build(self, kind: EventKind, name: str = "", data: dict[str, Any] | None = None,
              exp_id: str | None = None, ts_ns: int | None = None) -> Event:
        exp_id = exp_id if exp_id is not None else self.exp_id
        return new_event(kind, exp_id=exp_id if exp_id is not None else
                         self.current_experiment(), name=name, data=data, ts_ns=ts_ns)

    def append(self, kind: EventKind, name: str = "", data: dict[str, Any] | None = None,
               exp_id: str | None = None, pipe: Any = None, ts_ns: int | None = None) -> Event:
        """XADD one event (stamped now, or ``ts_ns``); on ``pipe`` when given (executed by the
        caller)."""
        event = self.build(kind, name, data, exp_id, ts_ns)
        target = pipe if pipe is not None else self._r
        try:
            target.xadd(self._keys.events, {EventField: encode(event)})
        except BusError as e:
            raise BusError(f"cannot append a {kind.value} event: {e}") from None
        return event


def as_text(value: bytes | str) -> str:
    """A Redis reply value as ``str``."""
    return value.decode() if isinstance(value, bytes) else value


def as_bytes(value: bytes | str) -> bytes:
    """A Redis reply value as ``bytes`` (for the msgpack decoders)."""
    return value.encode() if isinstance(value, str) else value
