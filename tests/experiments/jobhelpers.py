"""Helpers shared by the experiment-job tests."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from galileo.localenv import settings_env
from galileo.settings import Settings
from waiting import until

__all__ = ["galileo", "scenario", "until"]
CLI_TIMEOUT_S = 90


def galileo(settings: Settings, *args: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run a ``galileo`` command as a user would, with the test's settings in its environment."""
    return subprocess.run([sys.executable, "-m", "galileo", *args], capture_output=True,
                          text=True, env=settings_env(settings, COLUMNS="200"), input=stdin,
                          timeout=CLI_TIMEOUT_S, check=False)


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
