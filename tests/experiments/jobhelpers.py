"""Helpers shared by the experiment-job tests."""

from __future__ import annotations

from typing import Any

from waiting import until

__all__ = ["scenario", "until"]


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
