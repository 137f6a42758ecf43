"""Request generators for the workload services, loaded by name, e.g.
``galileo.apps.workloads.generators:kv`` with ``generator_args={"read_ratio": 0.9}``.

Each factory returns an object whose ``next_request()`` gives a request dict (``method``,
``path``, ``headers``, ``body`` bytes); bodies are encoded once, up front.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, Final

import msgspec

from galileo.errors import ValidationError

__all__ = ["checksum", "kv", "scenes", "superres", "ycsb"]

JSON_HEADERS: Final = {"Content-Type": "application/json"}
OCTET_HEADERS: Final = {"Content-Type": "application/octet-stream"}
_PLAN: Final = 4096  # precomputed requests, cycled


class Cycle:
    """Cycles through a precomputed list of requests."""

    def __init__(self, requests: list[dict[str, Any]]) -> None:
        self.requests = requests
        self._next = itertools.cycle(requests).__next__

    def next_request(self) -> dict[str, Any]:
        return dict(self._next())


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValidationError(message)


def kv(read_ratio: float = 0.9, keys: int = 100_000, value_size: int = 256,
       seed: int = 0) -> Cycle:
    """GETs (share ``read_ratio``) and PUTs of ``value_size`` bytes over ``keys`` keys."""
    _check(0.0 <= read_ratio <= 1.0, f"kv generator: read_ratio {read_ratio} must be in 0..1.")
    _check(keys >= 1, f"kv generator: keys must be at least 1, got {keys}.")
    _check(0 <= value_size <= 1 << 20, f"kv generator: value_size {value_size} out of range.")
    rng = random.Random(seed)
    value = bytes(rng.getrandbits(8) for _ in range(value_size))
    plan = []
    for _ in range(_PLAN):
        path = f"/kv/k{rng.randrange(keys)}"
        if rng.random() < read_ratio:
            plan.append({"method": "GET", "path": path, "headers": {}, "body": b""})
        else:
            plan.append({"method": "PUT", "path": path, "headers": OCTET_HEADERS, "body": value})
    return Cycle(plan)


def checksum(kib: int = 4096) -> Cycle:
    """``GET /checksum?kib=N``."""
    _check(1 <= kib <= 65536, f"checksum generator: kib {kib} must be between 1 and 65536.")
    return Cycle([{"method": "GET", "path": f"/checksum?kib={kib}", "headers": {}, "body": b""}])


def ycsb(workload: str = "a", ops: int = 1000) -> Cycle:
    """``POST /ycsb/<workload>`` with ``{"ops": n}`` (workload ``a`` or ``b``)."""
    _check(workload in ("a", "b"), f"ycsb generator: workload {workload!r} must be 'a' or 'b'.")
    _check(1 <= ops <= 10_000, f"ycsb generator: ops {ops} must be between 1 and 10000.")
    body = msgspec.json.encode({"ops": ops})
    return Cycle([{"method": "POST", "path": f"/ycsb/{workload}", "headers": JSON_HEADERS,
                   "body": body}])


def scenes(frames: int = 48) -> Cycle:
    """``GET /scenes?frames=N`` (the service walks through its video)."""
    _check(2 <= frames <= 600, f"scenes generator: frames {frames} must be between 2 and 600.")
    return Cycle([{"method": "GET", "path": f"/scenes?frames={frames}", "headers": {},
                   "body": b""}])


def superres(size: int = 64, scale: int = 2, seeds: int = 16) -> Cycle:
    """``POST /superres`` over ``seeds`` different generated images."""
    _check(4 <= size <= 256 and 1 <= scale <= 4,
           f"superres generator: size {size} must be 4..256 and scale {scale} 1..4.")
    _check(seeds >= 1, f"superres generator: seeds must be at least 1, got {seeds}.")
    return Cycle([{"method": "POST", "path": "/superres", "headers": JSON_HEADERS,
                   "body": msgspec.json.encode({"size": size, "scale": scale, "seed": s})}
                  for s in range(seeds)])
