"""Services test helpers (imported by name: ``from svchelpers import …``)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

import pytest

from galileo.errors import ConfigError
from galileo.settings import Settings
from galileo.testbed.cgroups import detect

AgentStarter = Callable[..., subprocess.Popen[bytes]]


def need_cgroups() -> None:
    if os.geteuid() != 0:
        pytest.skip("node agent tests need root (cgroups)")
    try:
        detect()
    except ConfigError as e:
        pytest.skip(f"node agent tests need cgroups: {e}")


def agent_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update({"galileo_redis_url": settings.redis_url or "",
                "galileo_namespace": settings.namespace,
                "galileo_data_dir": str(settings.data_dir), "PYTHONUNBUFFERED": "1"})
    return env


def wait_until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


