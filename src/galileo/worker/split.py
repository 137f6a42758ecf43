"""Splitting one worker's share of a command over its processes (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from galileo.protocol import Burst, SetRate, SpawnGroup


def split_int(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split proportionally to ``weights`` (largest remainder; sums to ``total``)."""
    wsum = sum(weights)
    if wsum <= 0:
        return [total] + [0] * (len(weights) - 1)
    exact = [total * w / wsum for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def split_clients(clients: Sequence[str], processes: int) -> list[list[str]]:
    return [list(clients[i::processes]) for i in range(processes)]


def _share(value: float, n: int, total: int) -> float:
    return value * n / total if total else 0.0


def split_spawn(cmd: SpawnGroup, processes: int) -> list[SpawnGroup]:
    parts = split_clients(cmd.clients, processes)
    counts = [len(p) for p in parts]
    total = len(cmd.clients)
    inflight = [max(1, x) for x in split_int(cmd.max_inflight, counts)]
    limit = cmd.arrival.limit
    limits = split_int(limit, counts) if limit is not None else [None] * processes
    return [
        msgspec.structs.replace(
            cmd, clients=p, rps=_share(cmd.rps, len(p), total), max_inflight=inflight[i],
            arrival=msgspec.structs.replace(cmd.arrival, limit=limits[i]),
        )
        for i, p in enumerate(parts)
    ]


def split_rate(cmd: SetRate, counts: Sequence[int]) -> list[SetRate]:
    total = sum(counts)
    return [msgspec.structs.replace(cmd, rps=_share(cmd.rps, n, total)) for n in counts]


def split_burst(cmd: Burst, counts: Sequence[int]) -> list[Burst]:
    return [msgspec.structs.replace(cmd, n=n) for n in split_int(cmd.n, counts)]
