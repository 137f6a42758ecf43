"""Helpers shared by the experiment-job tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def scenario(host: str, *, rps: float = 20, seconds: float = 2, thresholds: list[str] | None = None,
             name: str = "smoke") -> dict[str, Any]:
    return {
        "name": name,
        "routing": {"echo": {"hosts": [host]}},
        "workloads": [{"service": "echo", "clients": 1, "request": {"path": "/echo"},
                       "profile": {"type": "constant", "rps": rps},
                       "thresholds": thresholds or []}],
        "duration": seconds,
        "drain_s": 0.5,
    }
