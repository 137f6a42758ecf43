"""Fault scenarios against real processes; each returns a :class:`Result` (the benchmark's row).

Accounting, the same for every scenario:

* ``sent``: requests the workers report sent (``ClientGroup.close()`` totals of the live
  workers), plus requests that found no route (traced, never sent), plus the traces recorded
  from a worker that was killed (its own counters die with it);
* ``recorded``: trace rows stored for the scenario's groups;
* ``duplicated``: rows beyond one per request id, plus requests the target received beyond
  those the workers sent that could reach it (sent minus ``connect`` refusals) -- a request
  sent twice -- when no worker was killed;
* ``misfiled``: rows whose experiment id is not the one the group's traces were tagged with;
* ``recovery_s``: what "recovered" means is named per scenario (``Result.recovery``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultrig import Rig, wait

from galileo.control.group import ClientGroup

RATE = 200.0  # requests/s per scenario group
SETTLE_S = 20.0  # how long the record may take to catch up after the load stopped


@dataclass
class Result:
    scenario: str
    sent: int = 0
    recorded: int = 0
    duplicated: int = 0
    misfiled: int = 0
    recovery_s: float | None = None
    recovery: str = ""
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.sent - self.recorded


def _spawn(rig: Rig, path: str, exp_id: str | None, clients: int = 2,
           **kwargs: Any) -> ClientGroup:
    return rig.g.spawn("svc", clients, rps=RATE, request={"path": path}, exp_id=exp_id,
                       **kwargs)


def _finish(rig: Rig, result: Result, groups: dict[str, tuple[ClientGroup, str | None]],
            dead_workers: tuple[str, ...] = ()) -> Result:
    """Stop the load, close the groups and account for every request (see module doc)."""
    for grp, _ in groups.values():
        grp.rps(0)
    time.sleep(0.5)  # in-flight requests complete
    sent = 0
    sent_by_group: dict[str, int] = {}
    for grp, _ in groups.values():
        totals = grp.close()
        sent += totals["sent"]
        sent_by_group[grp.gid] = totals["sent"]
        if totals.lost:
            result.facts.setdefault("lost_workers", []).extend(totals.lost)
    gids = [grp.gid for grp, _ in groups.values()]
    marks = ",".join("?" * len(gids))
    sent += len(rig.rows(f"error = 'no_route' AND group_id IN ({marks})", tuple(gids)))
    if dead_workers:  # what they shipped before they died (their counters died with them)
        marks = ",".join("?" * len(dead_workers))
        for gid in gids:
            shipped = len(rig.rows(f"group_id = ? AND worker IN ({marks})", (gid, *dead_workers)))
            sent += shipped
            sent_by_group[gid] += shipped
    try:
        wait(lambda: rig.recorded(gids) >= sent, SETTLE_S, "the record to catch up")
    except AssertionError:
        result.notes.append(f"record still short after {SETTLE_S:.0f} s")
    result.sent = sent
    _account(rig, result, groups, sent_by_group, count_hits=not dead_workers)
    return result


def _account(rig: Rig, result: Result, groups: dict[str, tuple[ClientGroup, str | None]],
             sent_by_group: dict[str, int], count_hits: bool) -> None:
    for path, (grp, exp_id) in groups.items():
        rows = rig.rows("group_id = ?", (grp.gid,))
        result.recorded += len(rows)
        result.duplicated += len(rows) - len({r[0] for r in rows})
        result.misfiled += sum(1 for r in rows if r[1] != exp_id)
        # requests the target saw beyond those sent that could reach it (refused ones: no)
        refused = sum(1 for r in rows if r[5] == "connect")
        extra = rig.target.count(path) - (sent_by_group[grp.gid] - refused)
        if count_hits and extra > 0:
            result.duplicated += extra
        elif extra > 0:
            result.notes.append(f"{extra} request(s) reached the target with no trace (lost in "
                                "the killed worker's memory)")


# ---------------------------------------------------------------------- scenarios
def recorder_kill(rig: Rig) -> Result:
    """Two recorders share the consumer group; SIGKILL the one holding entries mid-run. The
    other takes over its pending entries (after ``--claim-idle`` 1 s) and goes on with the new
    ones. Recovery: from the kill until everything sent before it is stored."""
    result = Result("recorder SIGKILL", recovery="kill -> backlog stored by the other")
    rig.worker("w1")
    rig.recorder("rec1")
    rig.wait_workers("w1")
    rig.g.rtbl.set("svc", rig.target.host)
    exp = rig.g.experiment.start(name="recorder-kill")
    groups = {"/a": (_spawn(rig, "/a", exp), exp)}
    gid = groups["/a"][0].gid
    wait(lambda: rig.recorded([gid]) > 0, 60, "the first recorder at work")
    rig.recorder("rec2")
    wait(lambda: "recorder rec2:" in rig.log("rec2"), 60, "the second recorder")
    time.sleep(0.5)
    rig.kill("rec1")
    backlog = rig.target.count("/a")
    result.recovery_s = wait(lambda: rig.recorded([gid]) >= backlog, 30, "the backlog")
    time.sleep(0.5)
    _finish(rig, result, groups)
    rig.g.experiment.stop()
    return result


def redis_restart(rig: Rig, down_s: float = 2.0) -> Result:
    """SIGKILL Redis, start it again EMPTY after ``down_s``. One group follows the current
    experiment marker, one is tagged with another experiment; ``experiment.stop()`` is called
    after the restart. Workers keep sending from their routing cache while Redis is down; when
    it comes back empty their routes vanish (``no_route``) until the state keeper restored
    them. Recovery: from Redis back to the last ``no_route`` request (0 when there was none)."""
    result = Result("Redis restart (empty)", recovery="Redis back -> last no_route request")
    rig.worker("w1")
    rig.recorder()
    rig.wait_workers("w1")
    rig.g.rtbl.set("svc", rig.target.host)
    exp = rig.g.experiment.start(name="redis-restart")
    other = exp + "-b"
    groups = {"/a": (_spawn(rig, "/a", None), exp), "/b": (_spawn(rig, "/b", other), other)}
    rig.wait_keeper()  # the recorder's watchdog runs and has a snapshot with the groups
    rig.redis.kill()
    time.sleep(down_s)
    rig.redis.start()
    back_ns = time.time_ns()
    time.sleep(5.0)
    _finish(rig, result, groups)
    result.facts["stopped"] = rig.g.experiment.stop()
    result.facts["exp"] = exp
    [(last, count)] = rig.query("SELECT max(sent_ns), count(*) FROM traces "
                                "WHERE error = 'no_route'", ())
    result.facts["no_route"] = count
    result.recovery_s = max((last or back_ns) - back_ns, 0) / 1e9
    wait(lambda: rig.events("state_restored"), 10, "the state_restored event")
    result.facts["restored_events"] = len(rig.events("state_restored"))
    return result


def worker_kill(rig: Rig) -> Result:
    """SIGKILL one of two workers under a group (replace policy). Recovery: from the kill until
    the watchdog moved the lost share to the live worker (``group_replaced`` recorded)."""
    result = Result("worker SIGKILL", recovery="kill -> share re-placed (group_replaced)")
    rig.worker("w1")
    rig.worker("w2")
    rig.recorder()
    rig.wait_workers("w1", "w2")
    rig.g.rtbl.set("svc", rig.target.host)
    exp = rig.g.experiment.start(name="worker-kill")
    grp = _spawn(rig, "/a", exp, clients=4)
    groups = {"/a": (grp, exp)}
    time.sleep(1.5)
    rig.kill("w2")
    killed = time.time_ns()
    wait(lambda: rig.events("group_replaced"), 20, "the group_replaced event")
    result.recovery_s = (rig.events("group_replaced")[0][2] - killed) / 1e9
    time.sleep(2.0)
    n0 = rig.target.count("/a")
    time.sleep(2.0)
    result.facts["rate_after"] = (rig.target.count("/a") - n0) / 2.0
    result.facts["worker_lost_events"] = len(rig.events("worker_lost"))
    rig.g.experiment.stop()
    return _finish(rig, result, groups, dead_workers=("w2",))


def runner_kill(rig: Rig, scenario: dict[str, Any]) -> Result:
    """SIGKILL the only runner while its experiment sends load. Recovery: from the kill until
    the experiment is FAILED and its load has stopped (no request for 1 s)."""
    from galileo.experiments.service import ExperimentService

    result = Result("runner SIGKILL", recovery="kill -> FAILED and load stopped")
    rig.worker("w1")
    rig.recorder()
    rig.procs.start("runner", ["runner", "--concurrency", "1"])
    rig.wait_workers("w1")
    with ExperimentService(rig.settings) as service:
        exp = service.submit(scenario=scenario)
        wait(lambda: rig.target.count("/r") > 50, 60, "the experiment's load")
        rig.kill("runner")
        t0 = time.monotonic()
        wait(lambda: service.status(exp.id).status == "FAILED", 30, "FAILED")
        result.facts["failed_after_s"] = time.monotonic() - t0
        wait(lambda: rig.target.idle_for("/r") >= 1.0, 30, "the load to stop")
        result.recovery_s = time.monotonic() - t0 - 1.0
        result.facts["message"] = service.status(exp.id).message
    hits = rig.target.count("/r")
    rows = rig.rows("exp_id = ? OR exp_id IS NULL", (exp.id,))
    result.sent = hits
    wait(lambda: len(rig.rows("exp_id = ?", (exp.id,))) >= hits, SETTLE_S, "the record")
    rows = rig.rows("1=1")
    result.recorded = sum(1 for r in rows if r[1] == exp.id)
    result.misfiled = sum(1 for r in rows if r[1] != exp.id)
    result.duplicated = len(rows) - len({r[0] for r in rows})
    result.notes.append("sent = requests the target received (the runner's groups were "
                        "closed by the watchdog)")
    return result


def target_down(rig: Rig, down_s: float = 5.0, slow_s: float = 2.0) -> Result:
    """The target refuses connections for ``down_s``, then answers 0.5 s late (past the 0.2 s
    request timeout) for ``slow_s``. Every request is traced (errors named). Recovery: from
    the target back until answers flow again."""
    result = Result(f"target down {down_s:.0f} s, then slow",
                    recovery="target back -> answers again")
    rig.worker("w1")
    rig.recorder()
    rig.wait_workers("w1")
    rig.g.rtbl.set("svc", rig.target.host)
    exp = rig.g.experiment.start(name="target-down")
    groups = {"/a": (_spawn(rig, "/a", exp, timeout_s=0.2), exp)}
    time.sleep(1.0)
    rig.target.down()
    time.sleep(down_s)
    before = rig.target.count("/a")
    rig.target.up()
    result.recovery_s = wait(lambda: rig.target.count("/a") > before, 10, "answers")
    time.sleep(1.0)
    rig.target.delay_s = 0.5
    time.sleep(slow_s)
    rig.target.delay_s = 0.0
    time.sleep(1.0)
    rig.g.experiment.stop()
    _finish(rig, result, groups)
    errors = [r[5] for r in rig.rows("group_id = ?", (groups["/a"][0].gid,)) if r[5]]
    result.facts["errors"] = {e: errors.count(e) for e in set(errors)}
    return result


def db_unavailable(rig: Rig, locked_s: float = 10.0) -> Result:
    """Another process holds an exclusive lock on the SQLite expdb for ``locked_s`` (SQLite has
    no users to revoke, and file modes do not stop root): every write fails or waits. Recovery:
    from the unlock until everything sent meanwhile is stored."""
    result = Result(f"DB unavailable {locked_s:.0f} s",
                    recovery="database back -> backlog stored")
    rig.worker("w1")
    rig.recorder()
    rig.wait_workers("w1")
    rig.g.rtbl.set("svc", rig.target.host)
    exp = rig.g.experiment.start(name="db-down")
    groups = {"/a": (_spawn(rig, "/a", exp), exp)}
    gid = groups["/a"][0].gid
    wait(lambda: rig.recorded([gid]) > 0, 20, "the first traces")
    release = threading.Event()
    locked = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(str(rig.db_path), timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(locked_s)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    locked.wait(30)
    time.sleep(locked_s)
    release.set()
    holder.join(30)
    backlog = rig.target.count("/a")
    result.recovery_s = wait(lambda: rig.recorded([gid]) >= backlog, 60, "the backlog")
    rig.g.experiment.stop()
    return _finish(rig, result, groups)


SCENARIOS = ("recorder_kill", "redis_restart", "worker_kill", "runner_kill", "target_down",
             "db_unavailable")


def runner_scenario(host: str, seconds: float = 60) -> dict[str, Any]:
    """A long scenario for the runner-kill case (it is killed long before the end)."""
    return {"name": "runner-kill", "routing": {"svc": {"hosts": [host]}},
            "workloads": [{"service": "svc", "clients": 2, "request": {"path": "/r"},
                           "profile": {"type": "constant", "rps": RATE}}],
            "duration": seconds, "drain_s": 0.5}


def run(name: str, workdir: Path) -> Result:
    """Run one scenario by name in a fresh rig under ``workdir``."""
    with Rig(workdir) as rig:
        if name == "runner_kill":
            return runner_kill(rig, runner_scenario(rig.target.host))
        fn = globals()[name]
        return fn(rig)  # type: ignore[no-any-return]
