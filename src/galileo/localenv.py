"""Run Galileo's parts as local processes: used by ``galileo demo``, end-to-end tests and
benchmarks. Each part runs as a real ``galileo …`` subprocess configured through the same
``galileo_*`` environment variables a user would set."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from galileo.settings import Settings

STOP_TIMEOUT_S = 10.0


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a child process that must see the same Redis, namespace and expdb."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update({
        "galileo_redis_url": settings.redis_connection_url(),
        "galileo_namespace": settings.namespace,
        "galileo_data_dir": str(settings.data_dir.resolve()),
        "galileo_expdb_url": settings.expdb_connection_url(),
        "galileo_log_level": settings.log_level,
    })
    for key, value in settings.labels.items():
        env[f"galileo_label_{key}"] = value
    env.update(extra)
    return env


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 15.0) -> None:
    """Block until something accepts connections on host:port (raise TimeoutError)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


def wait_for_app_server(port: int, log_dir: Path, timeout_s: float = 120.0) -> None:
    """Wait for the built-in app server a local run started; one sentence when it never
    answers (it trains the classifier at start: slow on a busy small machine)."""
    from galileo.errors import GalileoError

    try:
        wait_for_port("127.0.0.1", port, timeout_s)
    except TimeoutError:
        raise GalileoError(f"the built-in app server did not answer on 127.0.0.1:{port} within "
                           f"{timeout_s:g} s (see the logs in {log_dir})") from None


class ProcessGroup:
    """Starts ``galileo`` subcommands as child processes and stops them all (SIGTERM, then
    SIGKILL after ``STOP_TIMEOUT_S``). Use as a context manager."""

    def __init__(self, settings: Settings, log_dir: Path | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir or settings.data_dir / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: Sequence[str], *, cpus: Sequence[int] | None = None,
              **env: str) -> subprocess.Popen[bytes]:
        """Start ``galileo <args>`` as ``name``; its output goes to ``<log_dir>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "galileo", *args]
        if cpus is not None and _has_taskset():
            cmd = ["taskset", "-c", ",".join(str(c) for c in cpus), *cmd]
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, env=settings_env(self.settings, **env), stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def _has_taskset() -> bool:
    return sys.platform.startswith("linux") and any(
        (Path(p) / "taskset").exists() for p in os.environ.get("PATH", "").split(os.pathsep)
    )


@contextlib.contextmanager
def cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def await_ready_lines(children: Sequence[subprocess.Popen[bytes]], prefix: str,
                      what: str) -> None:
    """Read each child's first stdout line; ``ConfigError`` unless it starts with ``prefix``
    (the child exited or failed before it was ready). Used by the multi-process servers."""
    from galileo.errors import ConfigError

    for child in children:
        assert child.stdout is not None
        ready = child.stdout.readline().decode(errors="replace")
        child.stdout.close()
        if not ready.startswith(prefix):
            raise ConfigError(f"{what} process {child.pid} exited before it was ready.")


def stop_children(children: Sequence[subprocess.Popen[bytes]], timeout_s: float = 10.0) -> None:
    """SIGTERM every child still running, wait ``timeout_s`` each, then SIGKILL."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

