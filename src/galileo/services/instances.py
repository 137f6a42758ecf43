"""One service instance on a node: its process in its own child cgroup, its health check, and
restarts with back-off.

States (:class:`~galileo.protocol.InstanceState`): ``starting`` → ``ready`` once the health path
answers 2xx; an exit or ``UNHEALTHY_AFTER`` failed checks in a row → ``backoff`` (restart after
0.2 s, doubling to ``BACKOFF_MAX_S``); ``QUICK_EXITS`` exits in a row each within
``QUICK_EXIT_S`` of the start → ``failed`` (no more restarts; one log line), which the
reconciler replaces elsewhere. :meth:`Instance.step` advances it; it never blocks longer than a
health check's timeout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Final

from galileo.errors import ConfigError
from galileo.protocol import InstanceSpec, InstanceState, InstanceStatus
from galileo.testbed.cgroups import Cgroups, Resources
from galileo.testbed.processes import join_cgroups

__all__ = ["Instance", "probe", "status_ok"]

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S: Final = 0.5
HEALTH_PERIOD_STARTING_S: Final = 0.1
HEALTH_PERIOD_READY_S: Final = 1.0
UNHEALTHY_AFTER: Final = 2  # failed checks in a row that make a ready instance restart
START_TIMEOUT_S: Final = 120.0  # a loaded machine starts Python slowly
QUICK_EXIT_S: Final = 2.0
QUICK_EXITS: Final = 4
BACKOFF_FIRST_S: Final = 0.2
BACKOFF_MAX_S: Final = 10.0
STOP_GRACE_S: Final = 3.0
LOG_TAIL_LINES: Final = 5
# health checks run here, never on the agent's loop (a slow instance must not stall the others)
_PROBES: Final = ThreadPoolExecutor(max_workers=8, thread_name_prefix="galileo-probe")


class Instance:
    """An assigned instance and its process (see the module doc)."""

    def __init__(self, spec: InstanceSpec, node: str, argv: Sequence[str], log_dir: Path,
                 cgroups: Cgroups | None, cgroup: str, address: str = "") -> None:
        self.spec = spec
        self.node = node
        self.address = address
        self.argv = list(argv)
        self.log_path = log_dir / f"{spec.id}.log"
        self.cgroups = cgroups
        self.cgroup = cgroup
        self.state = InstanceState.STARTING
        self.since_ns = time.time_ns()
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.exit_code: int | None = None
        self.reason = ""
        self._started = 0.0
        self._quick_exits = 0
        self._next_start = 0.0
        self._next_check = 0.0
        self._failed_checks = 0
        self._probe: Future[bool] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Create the cgroup (limits applied) and start the process inside it."""
        procs_files: list[Path] = []
        if self.cgroups is not None:
            self.cgroups.create(self.cgroup, Resources(self.spec.cpus or None,
                                                       self.spec.memory or None))
            procs_files = [d / "cgroup.procs" for d in self.cgroups.dirs(self.cgroup).values()]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=join_cgroups(procs_files) if procs_files else None)
        self._started = time.monotonic()
        self._next_check = self._started + HEALTH_PERIOD_STARTING_S
        self._failed_checks = 0
        self._probe = None
        self._set(InstanceState.STARTING)

    def terminate(self) -> None:
        """SIGTERM now (``stop`` then waits): lets many instances stop at once."""
        self._kill(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after ``STOP_GRACE_S``; remove the cgroup."""
        self._kill(signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._kill(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(2.0)
        self._remove_container()
        if self.cgroups is not None:
            self.cgroups.remove(self.cgroup)
        self._set(InstanceState.STOPPED)

    def _remove_container(self) -> None:
        """An image instance's container outlives a killed ``podman run``: remove it."""
        if self.spec.kind != "image" or not self.argv:
            return
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run([self.argv[0], "rm", "--force", "--time", "2",
                            f"galileo-{self.spec.id}"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30, check=False)

    def _kill(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
        if self.cgroups is not None:  # what left the process group stays in the cgroup
            for pid in self.cgroups.pids(self.cgroup):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)

    # ------------------------------------------------------------------ one step
    def step(self, now: float) -> bool:
        """Advance the state machine; True when the state changed."""
        before = self.state
        if self.state in (InstanceState.FAILED, InstanceState.STOPPED, InstanceState.REFUSED):
            return False
        if self.state == InstanceState.BACKOFF:
            if now >= self._next_start:
                try:
                    self.start()
                except (OSError, ConfigError) as e:
                    self._fail(f"cannot start: {e}")
            return self.state != before
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            self._exited(code, now)
        elif now >= self._next_check:
            self._check(now)
        return self.state != before

    def _exited(self, code: int, now: float) -> None:
        self.exit_code = code
        ran = now - self._started
        self._quick_exits = self._quick_exits + 1 if ran < QUICK_EXIT_S else 1
        if self._quick_exits >= QUICK_EXITS:
            self._fail(f"exited {self._quick_exits} times within {QUICK_EXIT_S:g} s of starting"
                       f" (last exit code {code})")
            return
        self._backoff(f"exited with code {code} after {ran:.1f} s", now)

    def _backoff(self, reason: str, now: float) -> None:
        self._kill(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2.0)
        self._remove_container()
        self.restarts += 1
        delay = min(BACKOFF_FIRST_S * 2 ** max(self._quick_exits - 1, 0), BACKOFF_MAX_S)
        self._next_start = now + delay
        self.reason = f"{reason}; restart {self.restarts} in {delay:.1f} s"
        self._set(InstanceState.BACKOFF)

    def _fail(self, reason: str) -> None:
        self._kill(signal.SIGKILL)
        self._remove_container()
        self.reason = reason
        log.warning("instance %s of %s on %s failed: %s (last log: %s)", self.spec.id,
                    self.spec.service, self.node, reason, " | ".join(self.log_tail()[-2:]))
        self._set(InstanceState.FAILED)

    def _check(self, now: float) -> None:
        if self._probe is None:  # start one; its answer is read on a later step
            self._probe = _PROBES.submit(probe, self.spec.port, self.spec.health)
            return
        if not self._probe.done():
            return
        ok = self._probe.result()
        self._probe = None
        if self.state == InstanceState.STARTING:
            if ok:
                self.reason = ""
                self._set(InstanceState.READY)
            elif now - self._started > START_TIMEOUT_S:
                self._backoff(f"not healthy within {START_TIMEOUT_S:g} s", now)
                return
        elif ok:
            self._failed_checks = 0
        else:
            self._failed_checks += 1
            if self._failed_checks >= UNHEALTHY_AFTER:
                self._backoff(f"health check {self.spec.health} failed "
                              f"{self._failed_checks} times", now)
                return
        period = (HEALTH_PERIOD_READY_S if self.state == InstanceState.READY
                  else HEALTH_PERIOD_STARTING_S)
        self._next_check = now + period

    def _set(self, state: InstanceState) -> None:
        if state != self.state or state == InstanceState.STARTING:
            self.since_ns = time.time_ns()
        self.state = state

    # ------------------------------------------------------------------ reporting
    def log_tail(self) -> list[str]:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, f.seek(0, 2) - 4096))
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return []
        return [ln[:300] for ln in deque((ln for ln in lines if ln.strip()),
                                         maxlen=LOG_TAIL_LINES)]

    def status(self) -> InstanceStatus:
        failing = self.state in (InstanceState.BACKOFF, InstanceState.FAILED)
        return InstanceStatus(
            id=self.spec.id, service=self.spec.service, node=self.node, port=self.spec.port,
            address=self.address,
            state=self.state, pid=self.proc.pid if self.proc and self.proc.poll() is None else 0,
            restarts=self.restarts, exit_code=self.exit_code, reason=self.reason,
            log_tail=self.log_tail() if failing else [], cpus=self.spec.cpus,
            memory=self.spec.memory, since_ns=self.since_ns)


def probe(port: int, path: str) -> bool:
    """True when ``GET path`` on ``127.0.0.1:port`` answers 2xx (no path: the port accepts).

    A bare HTTP/1.0 request on a raw socket, reading only the status line: the agent probes
    every ready instance every second, and ``http.client`` (header parsing, buffered files)
    cost several times more CPU per probe than the request itself."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=HEALTH_TIMEOUT_S) as sock:
            if not path:
                return True
            sock.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                         b"Connection: close\r\n\r\n")
            head = b""
            while b"\r\n" not in head and len(head) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    break
                head += chunk
    except OSError:
        return False
    return status_ok(head)


def status_ok(head: bytes) -> bool:
    """True when ``head`` starts with an HTTP status line whose code is 2xx."""
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    return (len(parts) >= 2 and parts[0].startswith(b"HTTP/") and len(parts[1]) == 3
            and parts[1].isdigit() and parts[1][:1] == b"2")
