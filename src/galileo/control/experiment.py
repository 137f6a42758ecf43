"""Experiment markers and tracing switch (the recorder stores what the events stream says)."""

from __future__ import annotations

import redis

from galileo.errors import ValidationError
from galileo.protocol import EventKind, Keys, check_name, new_experiment_id

from .events import EventLog

EXP_EVENT = "exp"
TRACING_EVENT = "tracing"


class ExperimentControl:
    """``g.experiment``: start/stop the running experiment."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._events = EventLog(client, keys)

    def current(self) -> str | None:
        """The running experiment id, or ``None``."""
        return self._events.current_experiment()

    def start(self, exp_id: str | None = None, name: str = "", creator: str = "") -> str:
        """Mark the start of an experiment; every trace from now carries its id."""
        exp_id = check_name("experiment id", exp_id or new_experiment_id())
        running = self.current()
        if running is not None:
            raise ValidationError(f"experiment {running!r} is still running; stop it first")
        if not self._r.set(self._keys.current_experiment, exp_id, nx=True):
            raise ValidationError("another experiment was started at the same moment")
        self._events.append(EventKind.EXPERIMENT_START, name or exp_id,
                            {"name": name, "creator": creator}, exp_id=exp_id)
        self._r.publish(self._keys.control_events, EXP_EVENT)
        return exp_id

    def stop(self) -> str | None:
        """Mark the end of the running experiment; returns its id (``None`` if none ran)."""
        exp_id = self.current()
        if exp_id is None:
            return None
        self._events.append(EventKind.EXPERIMENT_STOP, exp_id, exp_id=exp_id)
        self._r.delete(self._keys.current_experiment)
        self._r.publish(self._keys.control_events, EXP_EVENT)
        return exp_id

    def __repr__(self) -> str:
        return f"<experiment running={self.current()!r}>"


def set_tracing(client: redis.Redis, keys: Keys, on: bool) -> None:
    """Switch trace recording on the workers on or off."""
    client.set(keys.tracing, "on" if on else "off")
    EventLog(client, keys).append(EventKind.TRACING, "on" if on else "off", {"on": on})
    client.publish(keys.control_events, TRACING_EVENT)
