"""Experiment markers and tracing switch (the recorder stores what the events stream says)."""

from __future__ import annotations

import time
from typing import Any

from galileo.bus import Bus, transact
from galileo.errors import BusError, ValidationError
from galileo.events import EventLog
from galileo.protocol import EventKind, Keys, check_name, new_experiment_id

EXP_EVENT = "exp"
STOP_WAIT_S = 15.0  # how long stop() waits for a runner to end its experiment
STOP_POLL_S = 0.1
JOB_CANCEL_TTL_S = 24 * 3600
TRACING_EVENT = "tracing"


class ExperimentControl:
    """``g.experiment``: start/stop the running experiment.

    The marker (``Keys.current_experiment``) tells workers which experiment to tag traces of
    untagged groups with. This object remembers the experiment it started, so :meth:`stop`
    ends it even when Redis restarted empty in between (the marker was gone)."""

    def __init__(self, client: Bus, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._events = EventLog(client, keys)
        self._started: str | None = None

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
        self._started = exp_id
        self._events.append(EventKind.EXPERIMENT_START, name or exp_id,
                            {"name": name, "creator": creator}, exp_id=exp_id)
        self._r.publish(self._keys.control_events, EXP_EVENT)
        return exp_id

    def stop(self, data: dict[str, Any] | None = None,
             wait_s: float = STOP_WAIT_S) -> str | None:
        """End the running experiment (or the one this object started, when the marker was
        lost); returns its id (``None`` if none ran). One a runner executes is asked to stop
        and waited for (up to ``wait_s``); else ``data`` (e.g. status, message) goes into the
        ``experiment_stop`` event."""
        exp_id = self.current() or self._started
        if exp_id is None:
            return None
        if self._r.hexists(self._keys.jobs_running, exp_id):  # a runner executes it
            self._ask_runner_to_stop(exp_id, wait_s)
            return exp_id
        self.end(exp_id, data)
        return exp_id

    def _ask_runner_to_stop(self, exp_id: str, wait_s: float) -> None:
        """Request the cooperative stop the runner polls for, and wait (up to ``wait_s``)
        until it ended the experiment (the marker no longer names it)."""
        self._r.set(self._keys.job_cancel(exp_id), "1", ex=JOB_CANCEL_TTL_S)
        deadline = time.monotonic() + wait_s
        while self.current() == exp_id and time.monotonic() < deadline:
            time.sleep(STOP_POLL_S)

    def end(self, exp_id: str, data: dict[str, Any] | None = None) -> None:
        """End experiment ``exp_id`` (an ``experiment_stop`` event with ``data``) and clear
        the marker if it names it: no later trace is tagged with it."""
        self._events.append(EventKind.EXPERIMENT_STOP, exp_id, data, exp_id=exp_id)
        self.clear_marker(exp_id)

    def clear_marker(self, exp_id: str) -> bool:
        """Delete the marker if it still names ``exp_id`` (never another experiment's) and
        tell the workers; True when it did."""
        key = self._keys.current_experiment
        if self._started == exp_id:
            self._started = None

        def step(pipe: Any) -> bool:
            value = pipe.get(key)
            if value is None or value.decode() != exp_id:
                return False
            pipe.multi()
            pipe.delete(key)
            pipe.publish(self._keys.control_events, EXP_EVENT)
            return True

        try:
            return transact(self._r, [key], step, what=f"experiment marker {exp_id}")
        except BusError as e:
            raise BusError(f"cannot end experiment {exp_id}: {e}") from None

    def __repr__(self) -> str:
        return f"<experiment running={self.current()!r}>"


def set_tracing(client: Bus, keys: Keys, on: bool) -> None:
    """Switch trace recording on the workers on or off."""
    client.set(keys.tracing, "on" if on else "off")
    EventLog(client, keys).append(EventKind.TRACING, "on" if on else "off", {"on": on})
    client.publish(keys.control_events, TRACING_EVENT)
