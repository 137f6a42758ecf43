"""Service leases: two experiments never drive the same service at once.

An experiment's instructions only touch the client groups it owns, but two experiments that load
one service still change each other's results (the service's queue is shared, and a routing
change of one reroutes the other's requests). So, before it starts, a runner takes a lease on
every service the job uses -- its workloads' and ``spawn`` lines' services and every service it
routes (``routing:``, ``set``/``unset``) -- all at once or none. While another experiment holds
one of them, the experiment stays QUEUED and its status message says which service it waits for
and who holds it. Leases carry a TTL the runner's heartbeat refreshes, so a dead runner's
leases expire with it. Experiments on different services run side by side."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from galileo.bus import Bus, transact
from galileo.errors import BusError
from galileo.events import as_text
from galileo.protocol import Keys

log = logging.getLogger(__name__)
LEASE_POLL_S: Final = 0.25


class ServiceLeases:
    """The leases of one experiment on its services (see the module)."""

    def __init__(self, client: Bus, keys: Keys, exp_id: str, services: Iterable[str],
                 ttl_s: float) -> None:
        self._r = client
        self.exp_id = exp_id
        self.services = sorted(set(services))
        self._keys = {s: keys.service_lease(s) for s in self.services}
        self._ttl_ms = max(int(ttl_s * 1000), 1)
        self.held = False

    def try_acquire(self) -> dict[str, str]:
        """Take every lease, or none: ``{}`` when taken, else service → the experiment that
        holds it."""
        holders = self._write(all_or_none=True)
        self.held = not holders
        return holders

    def refresh(self) -> None:
        """Extend the leases (re-take one Redis forgot); called by the runner's heartbeat."""
        if not self.held:
            return
        try:
            taken = self._write(all_or_none=False)
        except BusError as e:
            log.info("experiment %s: cannot refresh its service leases: %s", self.exp_id, e)
            return
        if taken:  # only after our lease expired (the runner stalled past the TTL)
            log.warning("experiment %s: service lease(s) taken over: %s", self.exp_id,
                        waiting_message(taken))

    def release(self) -> None:
        """Give back the leases still ours."""
        self.held = False
        keys = list(self._keys.values())
        if not keys:
            return

        def step(pipe: Any) -> None:
            mine = [k for k, v in zip(keys, pipe.mget(keys), strict=True)
                    if v is not None and as_text(v) == self.exp_id]
            if mine:
                pipe.multi()
                pipe.delete(*mine)

        try:
            transact(self._r, keys, step, what=f"service leases of {self.exp_id}")
        except BusError as e:  # they expire with their TTL
            log.warning("experiment %s: cannot release its service leases: %s", self.exp_id, e)

    def _write(self, all_or_none: bool) -> dict[str, str]:
        """(Re)set the leases that are free or ours (with ``all_or_none``: only when all
        are); the ones another experiment holds (service → its id)."""
        keys = list(self._keys.values())
        if not keys:
            return {}

        def step(pipe: Any) -> dict[str, str]:
            values = pipe.mget(keys)
            holders = {s: as_text(v) for s, v in zip(self.services, values, strict=True)
                       if v is not None and as_text(v) != self.exp_id}
            if holders and all_or_none:
                return holders
            pipe.multi()
            for s, key in self._keys.items():
                if s not in holders:
                    pipe.set(key, self.exp_id, px=self._ttl_ms)
            return holders

        return transact(self._r, keys, step, what=f"service leases of {self.exp_id}")

    def wait(self, still_queued: Callable[[], bool], report: Callable[[str], None],
             poll_s: float = LEASE_POLL_S) -> bool:
        """Take the leases, waiting while others hold them; ``report(message)`` says why it
        waits whenever that changes. False when the experiment left QUEUED meanwhile (it was
        cancelled), without the leases."""
        said = ""
        while True:
            holders = self.try_acquire()
            if not holders:
                return True
            text = waiting_message(holders)
            if text != said:
                report(text)
                said = text
            if not still_queued():
                return False
            time.sleep(poll_s)


def waiting_message(holders: dict[str, str]) -> str:
    """``waiting for service 'echo' (used by experiment X)``."""
    parts = [f"service {s!r} (used by experiment {e})" for s, e in sorted(holders.items())]
    return "waiting for " + ", ".join(parts)
