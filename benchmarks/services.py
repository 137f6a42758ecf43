"""Figures of services on the testbed (issue 17). Needs root::

    sudo .venv/bin/python benchmarks/services.py              # everything (~2 min)
    sudo .venv/bin/python benchmarks/services.py --kills 5

On a 4-host testbed (prefix ``gsvcb``, no host limits) it measures:

* ``deploy_24_s``: ``g.services.run`` of 24 ``echo`` instances → all ready *and* routed (goal
  ≤ 10 s);
* ``kill_back_s`` (p50/p99 over ``--kills``): an instance SIGKILLed → back ready and routed;
  ``kill_unrouted_s``: SIGKILL → its endpoint gone from the routing record (failure detection);
* ``late_to_dead``: requests a worker sent to the killed instance more than 1 s after it left
  the routing record and before it was routed again (restarted), with 100 req/s running
  against the service (goal 0); ``failed_to_victim``: the requests to it that failed at all;
* ``agent_idle_cpu_pct`` / ``agent_rss_mb``: one node agent with 6 ready instances, over
  ``--idle-s`` (30 s; goal ≤ 1 % of a core).

Prints a table and one JSON line. The machine is shared: quote medians and say how loaded it was.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from galileo.control.galileo import Galileo
from galileo.storage.expdb import ExpDB
from galileo.testbed import Testbed

PREFIX = "gsvcb"
S = 1_000_000_000


def _until(cond: Any, timeout_s: float, what: str, poll_s: float = 0.01) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic() - t0


def _routed(g: Galileo, service: str) -> list[str]:
    record = g.rtbl.get(service)
    return list(record.hosts) if record else []


def _pid(g: Galileo, service: str, endpoint: str) -> int:
    return next(s.pid for s in g.services.instances(service) if s.endpoint == endpoint)


def deploy(g: Galileo, n: int) -> float:
    t0 = time.monotonic()
    g.services.run("bench", app="echo", replicas=n)
    g.services.wait("bench", 120)
    return time.monotonic() - t0


def kills(g: Galileo, rounds: int) -> tuple[list[float], list[float]]:
    back, unrouted = [], []
    for i in range(rounds):
        endpoints = sorted(g.services.ready("bench"))
        victim = endpoints[i % len(endpoints)]
        pid = _pid(g, "bench", victim)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _until(lambda v=victim: v not in _routed(g, "bench"), 10, "the victim unrouted")
        unrouted.append(time.monotonic() - t0)
        _until(lambda v=victim: v in _routed(g, "bench") and v in g.services.ready("bench"), 30,
               "the victim back")
        back.append(time.monotonic() - t0)
        time.sleep(2.5)  # past the quick-exit window, so the next kill is a fresh first failure
    return back, unrouted


def late_requests(tb: Testbed, g: Galileo, rps: float = 100.0) -> dict[str, Any]:
    exp = g.experiment.start(name="services-kill")
    cg = g.spawn("bench", 1, hosts=tb.hosts[0])
    cg.rps(rps)
    time.sleep(2.0)
    victim = sorted(g.services.ready("bench"))[-1]
    os.kill(_pid(g, "bench", victim), signal.SIGKILL)
    _until(lambda: victim not in _routed(g, "bench"), 10, "the victim unrouted")
    removed_ns = time.time_ns()
    _until(lambda: victim in _routed(g, "bench"), 30, "the victim back (restarted)")
    back_ns = time.time_ns()
    time.sleep(1.0)
    cg.rps(0)
    time.sleep(1.0)
    cg.close(timeout=10)
    g.experiment.stop()
    time.sleep(3.0)  # the recorder writes the traces
    with ExpDB(f"sqlite:///{tb.expdb_path}") as db:
        rows = db.traces(exp)
    # while it was dead: from its removal from the routing record to its return
    dead = [r for r in rows if r["host"] == victim and removed_ns < r["sent_ns"] < back_ns]
    late = [r for r in dead if r["sent_ns"] > removed_ns + S]
    failed = [r for r in rows if r["host"] == victim and (r["status"] == 0 or r["error"])]
    return {"traces": len(rows), "failed_to_victim": len(failed),
            "sent_while_unrouted": len(dead), "late_to_dead": len(late),
            "dead_s": round((back_ns - removed_ns) / S, 2)}


def agent_idle(tb: Testbed, g: Galileo, seconds: float) -> tuple[float, float]:
    host = tb.hosts[0]
    proc = next(p for p in tb.state.processes_of(host) if p.role == "node")
    agent = psutil.Process(proc.pid)
    agent = next((c for c in agent.children(recursive=True) if "node" in " ".join(c.cmdline())),
                 agent)
    time.sleep(3.0)  # past the deploy's last reports
    t0 = agent.cpu_times()  # all its threads (loop, liveness, health probes)
    time.sleep(seconds)
    t1 = agent.cpu_times()
    cpu = (t1.user + t1.system - t0.user - t0.system) / seconds * 100.0
    return cpu, agent.memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--instances", type=int, default=24)
    parser.add_argument("--idle-s", type=float, default=30.0,
                        help="how long the idle agent's CPU is measured (clock ticks are 10 ms)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        Testbed.down_prefix(Path(tmp), PREFIX)
        with Testbed.up(4, data_dir=Path(tmp), prefix=PREFIX) as tb, \
                Galileo.from_settings(tb.settings()) as g:
            _until(lambda: len(g.services.nodes()) == 4, 60, "4 node agents")
            deploy_s = deploy(g, args.instances)
            per_host = sorted(len([s for s in g.services.instances("bench") if s.node == h])
                              for h in tb.hosts)
            idle_cpu, rss = agent_idle(tb, g, args.idle_s)
            back, unrouted = kills(g, args.kills)
            late = late_requests(tb, g)
    q = statistics.quantiles
    out = {
        "bench": "services", "hosts": 4, "instances": args.instances,
        "deploy_s": round(deploy_s, 2), "per_host": per_host,
        "kill_back_p50_s": round(statistics.median(back), 3),
        "kill_back_p99_s": round(q(back, n=100)[98] if len(back) > 1 else back[0], 3),
        "kill_unrouted_p50_s": round(statistics.median(unrouted), 3),
        "kill_unrouted_max_s": round(max(unrouted), 3),
        **late,
        "agent_idle_cpu_pct": round(idle_cpu, 2), "agent_rss_mb": round(rss, 1),
        "loadavg_at_start": round(load, 1),
    }
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
