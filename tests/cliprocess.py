"""Running a real ``galileo`` server command as a subprocess against the test settings."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from galileo.settings import Settings


def galileo_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment without any ``galileo_*``, plus the test settings."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update(galileo_redis_url=settings.redis_connection_url(),
               galileo_namespace=settings.namespace,
               galileo_expdb_url=settings.expdb_connection_url(),
               galileo_data_dir=str(settings.data_dir), galileo_log_level="INFO", **extra)
    return env


@contextlib.contextmanager
def serving(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``galileo ARGS…`` running for the block (stderr piped), terminated after it."""
    with subprocess.Popen([sys.executable, "-m", "galileo", *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
