"""Balancers started by a controller (instruction ``lb start``, scenario ``balancers:``): each
a ``galileo lb serve`` process on this machine, stopped by ``lb stop``, by :meth:`stop_all` when
the script or experiment ends, or with its parent (it gets SIGTERM if the controller dies)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from galileo.errors import ConfigError
from galileo.lb.commands import check_policy_spec
from galileo.localenv import settings_env
from galileo.protocol import check_name
from galileo.settings import Settings

__all__ = ["Launched", "Launcher", "die_with_parent"]

READY_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 5.0
_READY: Final = re.compile(r"galileo lb: serving on (\S+)")


@dataclass
class Launched:
    name: str
    url: str
    policy: str
    process: subprocess.Popen[str]
    log: Path


class Launcher:
    """The balancers one controller started, by name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running: dict[str, Launched] = {}

    def start(self, name: str = "lb", port: int = 8000, policy: str = "wrr",
              host: str = "127.0.0.1") -> Launched:
        """Start balancer ``name`` and wait until it serves (``ConfigError`` if it cannot)."""
        check_name("balancer", name)
        check_policy_spec(policy)
        if name in self.running and self.running[name].process.poll() is None:
            raise ConfigError(f"balancer {name!r} is already running "
                              f"({self.running[name].url}).")
        env = settings_env(self.settings)
        cmd = [sys.executable, "-m", "galileo", "lb", "serve", "--name", name, "--host", host,
               "--port", str(port), "--policy", policy]
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.settings.data_dir / f"lb-{name}.log"
        with open(log_path, "w") as log_file:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log_file, text=True,
                                    stdin=subprocess.DEVNULL, env=env,
                                    preexec_fn=die_with_parent)
        line = _first_line(proc)
        match = _READY.search(line)
        if match is None:
            _terminate(proc)
            err = log_path.read_text(errors="replace").strip().splitlines()
            raise ConfigError(f"balancer {name!r} did not start: "
                              f"{err[-1] if err else line.strip() or 'no output'}")
        launched = Launched(name, match.group(1), policy, proc, log_path)
        self.running[name] = launched
        return launched

    def stop(self, name: str = "lb") -> bool:
        """Stop balancer ``name``; False when this controller has no such balancer running."""
        launched = self.running.pop(name, None)
        if launched is None:
            return False
        _terminate(launched.process)
        return True

    def stop_all(self) -> list[str]:
        names = list(self.running)
        for name in names:
            self.stop(name)
        return names


def _first_line(proc: subprocess.Popen[str]) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout
                                                        else ""), daemon=True)
    reader.start()
    reader.join(READY_TIMEOUT_S)
    return box[0] if box else ""


def _terminate(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """``preexec_fn`` of a child that must get SIGTERM when its parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
