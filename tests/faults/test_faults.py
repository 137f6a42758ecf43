"""The fault suite: each scenario against real processes (workers, recorder, runner as
subprocesses, a Redis server killed and restarted EMPTY, a real HTTP target); asserts that
nothing sent is lost, duplicated or misfiled, and how fast the cluster recovered.
Scenarios live in faultscenarios.py (benchmarks/faults.py prints the same as a table)."""

from __future__ import annotations

import subprocess
import sys

import faultscenarios as fs
import pytest
from faultrig import Rig, wait

from galileo.localenv import settings_env


def _clean(r: fs.Result) -> None:
    print(r)
    assert r.sent > 0, r
    assert (r.recorded, r.duplicated, r.misfiled) == (r.sent, 0, 0), r


def test_recorder_sigkill(rig: Rig) -> None:
    r = fs.recorder_kill(rig)
    _clean(r)
    assert r.recovery_s is not None and r.recovery_s < 10, r


@pytest.mark.slow
def test_redis_restart_empty(rig: Rig) -> None:
    r = fs.redis_restart(rig)
    _clean(r)
    assert r.recovery_s is not None and r.recovery_s <= 5.0, r  # load resumes within 5 s
    assert r.facts["stopped"] == r.facts["exp"]  # experiment.stop() worked after the restart
    assert r.facts["restored_events"] >= 1
    from galileo.storage import ExpDB

    with ExpDB(f"sqlite:///{rig.db_path}") as db:
        exp = db.get_experiment(r.facts["exp"])
        assert exp is not None and exp.status.value == "FINISHED" and exp.end is not None


def test_worker_sigkill(rig: Rig) -> None:
    r = fs.worker_kill(rig)
    print(r)
    assert (r.duplicated, r.misfiled) == (0, 0), r
    assert r.recorded == r.sent, r  # every trace of the live worker (and what w2 shipped)
    # liveness TTL 3 s after the last heartbeat + a watchdog round (+ slack for a loaded CI)
    assert r.recovery_s is not None and r.recovery_s < 6.0, r
    assert r.facts["lost_workers"] == ["w2"]
    assert r.facts["worker_lost_events"] == 1
    assert r.facts["rate_after"] >= 0.85 * fs.RATE, r  # the lost share was re-placed (half
    # of the rate would remain without it)


@pytest.mark.slow
def test_runner_sigkill(rig: Rig) -> None:
    r = fs.runner_kill(rig, fs.runner_scenario(rig.target.host))
    print(r)
    assert r.recovery_s is not None and r.recovery_s <= 10.0, r
    assert "stopped heartbeating" in str(r.facts["message"])
    assert (r.recorded, r.duplicated, r.misfiled) == (r.sent, 0, 0), r


def test_target_down_then_slow(rig: Rig) -> None:
    r = fs.target_down(rig)
    _clean(r)
    assert r.recovery_s is not None and r.recovery_s < 3.0, r
    errors = r.facts["errors"]
    assert errors.get("connect", 0) > 0 and errors.get("timeout", 0) > 0, errors


@pytest.mark.slow
def test_db_unavailable(rig: Rig) -> None:
    r = fs.db_unavailable(rig)
    _clean(r)
    assert r.recovery_s is not None and r.recovery_s < 10.0, r


def test_bad_member_in_the_workers_set(rig: Rig) -> None:
    rig.worker("w1")
    rig.recorder()
    rig.wait_workers("w1")
    raw = rig.g.redis
    raw.sadd(rig.g.keys.workers, "bad name", "x:y")
    raw.sadd(rig.g.keys.groups, "bad group")
    cli = subprocess.run([sys.executable, "-m", "galileo", "workers"], capture_output=True,
                         text=True, env=settings_env(rig.settings), timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "w1" in cli.stdout and "Traceback" not in cli.stderr
    rig.g.rtbl.set("svc", rig.target.host)
    grp = rig.g.spawn("svc", 1, rps=50, request={"path": "/a"})
    wait(lambda: rig.target.count("/a") > 10, 10, "load despite the bad members")
    assert [g.gid for g in rig.g.groups()] == [grp.gid]
    assert grp.close()["sent"] > 10
    assert rig.procs.procs["recorder"].poll() is None  # the watchdog did not crash it
