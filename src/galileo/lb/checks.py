"""Active health checks: ``GET <path>`` on every backend every ``interval_s``; a backend that
fails ``fall`` checks in a row is out until it passes ``rise`` in a row. Each balancer process
checks on its own (no shared state to go stale)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

from galileo.lb.balancer import Balancer
from galileo.load.httpclient import HttpClient
from galileo.protocol import RequestSpec

__all__ = ["ActiveChecks", "CheckConfig"]

log = logging.getLogger(__name__)

OK_STATUS: Final = range(200, 400)


@dataclass(frozen=True, kw_only=True)
class CheckConfig:
    path: str = "/"
    interval_s: float = 1.0
    timeout_s: float = 1.0
    fall: int = 2
    rise: int = 1


class ActiveChecks:
    """Runs the checks of one balancer process until cancelled."""

    def __init__(self, balancer: Balancer, config: CheckConfig) -> None:
        self.balancer = balancer
        self.config = config
        self._streak: dict[str, int] = {}  # address -> +passes / -failures in a row

    async def run(self) -> None:
        client = HttpClient(timeout_s=self.config.timeout_s)
        spec = RequestSpec(path=self.config.path, headers={"User-Agent": "galileo-lb-check"})
        try:
            while True:
                await self.check_all(client, spec)
                await asyncio.sleep(self.config.interval_s)
        finally:
            client.close()

    async def check_all(self, client: HttpClient, spec: RequestSpec) -> None:
        backends = {b.address: b for s in self.balancer.services.values() for b in s.backends}
        results = await asyncio.gather(*(client.request(a, spec) for a in backends))
        for (address, backend), (status, _, error) in zip(backends.items(), results,
                                                          strict=True):
            ok = not error and status in OK_STATUS
            streak = self._streak.get(address, 0)
            streak = max(streak, 0) + 1 if ok else min(streak, 0) - 1
            self._streak[address] = streak
            if backend.active_ok and streak <= -self.config.fall:
                backend.active_ok = False
                log.warning("backend %s failed %d health checks (%s): out", address, -streak,
                            error or status)
            elif not backend.active_ok and streak >= self.config.rise:
                backend.active_ok = True
                log.warning("backend %s passes health checks again: in", address)
        for address in [a for a in self._streak if a not in backends]:
            del self._streak[address]
