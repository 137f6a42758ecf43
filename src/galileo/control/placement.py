"""Pure placement arithmetic: where clients go and how rates and bursts are split."""

from __future__ import annotations

import math
from collections.abc import Mapping


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
