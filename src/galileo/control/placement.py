"""Pure placement arithmetic: where clients go and how rates and bursts are split."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from galileo.settings import LABEL_PREFIX


def place_least_loaded(load: Mapping[str, int], num: int) -> dict[str, int]:
    """Place ``num`` clients one at a time on the worker with the fewest clients (existing
    ``load`` plus what was already placed); ties go to the first name in sorted order."""
    placed = dict.fromkeys(load, 0)
    for _ in range(num):
        worker = min(sorted(load), key=lambda w: load[w] + placed[w])
        placed[worker] += 1
    return {w: n for w, n in placed.items() if n > 0}


def split_rate(total: float, clients: Mapping[str, int]) -> dict[str, float]:
    """Split a group rate over workers proportionally to their client counts."""
    n = sum(clients.values())
    if n <= 0:
        return dict.fromkeys(clients, 0.0)
    return {w: total * c / n for w, c in clients.items()}


def split_count(n: int, clients: Mapping[str, int]) -> dict[str, int]:
    """Split ``n`` requests proportionally to client counts by largest remainder (sums to n)."""
    total = sum(clients.values())
    if total <= 0 or n <= 0:
        return dict.fromkeys(clients, 0)
    exact = {w: n * c / total for w, c in clients.items()}
    out = {w: math.floor(x) for w, x in exact.items()}
    rest = n - sum(out.values())
    for w in sorted(exact, key=lambda w: (-(exact[w] - out[w]), w))[:rest]:
        out[w] += 1
    return out


def with_pending(heartbeat: Mapping[str, int],
                 placements: Iterable[Mapping[str, Sequence[str]]]) -> dict[str, int]:
    """Clients per worker for placing the next group: the larger of what each worker's last
    heartbeat reported and what the stored groups place on it. Back-to-back spawns so see
    each other before the workers report them."""
    placed = dict.fromkeys(heartbeat, 0)
    for placement in placements:
        for worker, clients in placement.items():
            if worker in placed:
                placed[worker] += len(clients)
    return {w: max(n, placed[w]) for w, n in heartbeat.items()}


def label_key(name: str) -> str:
    """A label as workers publish it: Galileo 0.x named labels by their full variable
    (``galileo_zone``, ``galileo_label_gpu``); today they are ``zone``, ``gpu``."""
    low = name.lower()
    for prefix in (LABEL_PREFIX, "galileo_"):
        if low.startswith(prefix) and len(low) > len(prefix):
            return low[len(prefix):]
    return name
