"""Daemons obey SIGTERM even when Redis has vanished (issue 17): with Redis frozen (SIGSTOP: its
port accepts, nothing answers, as behind a cut link) every daemon exits within its grace period,
because no bus call retries or blocks forever while it stops, and every join is bounded."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from faultrig import Rig, wait

from galileo.experiments.daemon import RUNNER_STOP_BUDGET_S
from galileo.worker.daemon import STOP_BUDGET_S

# SIGTERM → exit with Redis frozen: every daemon within the worker's stop budget (4.5 s; well
# under the 10 s after which ProcessGroup and the testbed SIGKILL). Measured: 0.6-2.3 s.
GRACE_S = STOP_BUDGET_S
RUNNER_GRACE_S = RUNNER_STOP_BUDGET_S + 2.5  # its budget, one unanswered ping (1 s), its exit


@pytest.fixture
def frozen(rig: Rig) -> Iterator[Rig]:
    """The rig; its Redis is SIGCONTed at the end whatever happened."""
    yield rig
    if rig.redis.proc is not None and rig.redis.proc.poll() is None:
        rig.redis.proc.send_signal(signal.SIGCONT)


def _exit_times(rig: Rig, names: list[str],
                grace_s: float = GRACE_S) -> dict[str, float | None]:
    """SIGTERM every one at once; seconds until each exited (None: still running at grace_s)."""
    procs = {n: rig.procs.procs[n] for n in names}
    t0 = time.monotonic()
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    out: dict[str, float | None] = dict.fromkeys(names)
    while time.monotonic() - t0 < grace_s and any(v is None for v in out.values()):
        for name, proc in procs.items():
            if out[name] is None and proc.poll() is not None:
                out[name] = round(time.monotonic() - t0, 2)
        time.sleep(0.05)
    return out


def test_every_daemon_stops_within_its_grace_when_redis_is_frozen(frozen: Rig) -> None:
    rig = frozen
    rig.worker("w1")
    rig.recorder()  # hosts the watchdog and the services reconciler
    rig.procs.start("reconciler", ["services", "reconcile"])
    rig.procs.start("node", ["node", "--name", "n1", "--address", "127.0.0.1",
                             "--ports", "24000-24099", "--app", "echo"])
    rig.wait_workers("w1")
    rig.wait_keeper()
    wait(lambda: rig.g.redis.exists(rig.g.keys.node("n1")), 30, "the node agent")
    rig.g.services.run("svc", app="echo", replicas=1)
    rig.g.services.wait("svc", 60)
    rig.procs.start("autoscaler", ["autoscale", "svc", "--period", "1", "--max", "2"])
    wait(lambda: "Ctrl-C to stop" in rig.log("autoscaler"), 30, "the autoscaler")
    time.sleep(1.5)  # every loop is in its steady state
    names = ["w1", "recorder", "reconciler", "node", "autoscaler"]
    assert all(rig.procs.procs[n].poll() is None for n in names)

    assert rig.redis.proc is not None
    rig.redis.proc.send_signal(signal.SIGSTOP)
    time.sleep(1.0)  # the daemons meet the frozen Redis mid-call
    took = _exit_times(rig, names)
    print("exit times after SIGTERM, Redis frozen:", took)
    late = {n: t for n, t in took.items() if t is None}
    assert not late, f"still running {GRACE_S} s after SIGTERM with Redis frozen: {sorted(late)}" \
        f" (exit times {took}); logs:\n" + "\n".join(
            f"--- {n}\n{rig.log(n)[-1500:]}" for n in late)
    for name in names:  # clean exits, not crashes
        assert rig.procs.procs[name].returncode in (0, -signal.SIGTERM, 130, 143), \
            (name, rig.procs.procs[name].returncode, rig.log(name)[-1500:])
    # the agent's instance went with it: nothing left listening on its port range
    assert subprocess.run(["ss", "-Hltn", "sport >= :24000 and sport <= :24099"],
                          capture_output=True, text=True, check=False).stdout.strip() == ""


def test_runner_stops_within_its_grace_when_redis_is_frozen(frozen: Rig) -> None:
    """The experiment runner (a Celery worker) too: its warm shutdown talks to the broker, which
    would wait on a frozen Redis forever; the runner's stop budget ends it."""
    rig = frozen
    rig.procs.start("runner", ["runner", "--name", "r1"])
    wait(lambda: "ready" in rig.log("runner"), 60, "the runner")
    time.sleep(1.5)
    assert rig.redis.proc is not None
    rig.redis.proc.send_signal(signal.SIGSTOP)
    time.sleep(1.0)
    took = _exit_times(rig, ["runner"], grace_s=RUNNER_GRACE_S)
    print("runner exit time after SIGTERM, Redis frozen:", took)
    assert took["runner"] is not None, \
        f"runner still running {RUNNER_GRACE_S} s after SIGTERM with Redis frozen:\n" \
        + rig.log("runner")[-2000:]
