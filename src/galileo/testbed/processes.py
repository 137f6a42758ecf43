"""Processes inside testbed hosts: started through ``ip netns exec`` in their own UTS namespace
(so ``hostname`` is the host's name), output to a log file, stopped with SIGTERM then SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

from galileo.errors import GalileoError
from galileo.testbed.netns import in_ns, namespace_pids

__all__ = ["alive", "host_command", "join_cgroups", "start", "stop_pids", "wait_for"]

STOP_GRACE_S: Final = 5.0
POLL_S: Final = 0.05
# Popen objects of processes started by this interpreter, so they are reaped (not zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def host_command(ns: str, hostname: str, cmd: Sequence[str], setup: str = "") -> list[str]:
    """``cmd`` run in network namespace ``ns`` with ``hostname`` as its host name (same pid),
    after the shell commands ``setup`` (e.g. mounting the cgroup hierarchies)."""
    script = 'hostname "$0" && ' + (f"{setup} && " if setup else "") + 'exec "$@"'
    return in_ns(ns, ["unshare", "--uts", "--", "sh", "-c", script, hostname, *cmd])


def start(ns: str, hostname: str, cmd: Sequence[str], env: Mapping[str, str],
          log_path: Path, cgroup_procs: Sequence[Path] = (), setup: str = "") -> int:
    """Start ``cmd`` in host ``ns`` (own session: it outlives the CLI that started it), inside
    the cgroups whose ``cgroup.procs`` files are given (joined before ``exec``, so every
    process it forks is inside too)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:  # a fresh log per start: readiness is read from it
        proc = subprocess.Popen(host_command(ns, hostname, cmd, setup), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, env=dict(env),
                                start_new_session=True,
                                preexec_fn=join_cgroups(cgroup_procs) if cgroup_procs else None)
    _CHILDREN[proc.pid] = proc
    return proc.pid


def join_cgroups(procs_files: Sequence[Path]) -> Callable[[], None]:
    """A ``preexec_fn`` that moves the child into the cgroups (before it execs)."""
    paths = [str(p) for p in procs_files]

    def join() -> None:
        pid = str(os.getpid()).encode()
        for path in paths:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    return join


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone; our own children get reaped)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def stop_pids(pids: Iterable[int], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM every pid, SIGKILL what still runs after ``grace_s``."""
    pending = [p for p in pids if alive(p)]
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pending and time.monotonic() < deadline:
        time.sleep(POLL_S)
        pending = [p for p in pending if alive(p)]
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pending:
        _wait_gone(pid, 2.0)
    for pid in list(_CHILDREN):
        if not alive(pid):
            _CHILDREN.pop(pid, None)


def stop_namespace(ns: str, grace_s: float = STOP_GRACE_S) -> None:
    """Stop every process still inside namespace ``ns`` (also ones no state file lists)."""
    stop_pids(namespace_pids(ns), grace_s)


def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str,
             watched: Sequence[tuple[int, Path]] = ()) -> None:
    """Poll ``condition`` until true; fail naming ``what`` (and a died process's log tail)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        for pid, log in watched:
            if not alive(pid):
                raise GalileoError(f"{what}: process {pid} exited ({_tail(log)}).")
        if time.monotonic() >= deadline:
            raise GalileoError(f"timed out after {timeout_s:.0f} s waiting for {what}.")
        time.sleep(POLL_S)


def _tail(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return f"no log at {log}"
    return f"last log line: {lines[-1].strip()[:300]}" if lines else f"empty log {log}"
