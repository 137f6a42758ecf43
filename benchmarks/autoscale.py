"""Autoscaling policies compared on a resource-limited testbed (issue 18, item 3). Needs root::

    sudo .venv/bin/python benchmarks/autoscale.py --quick     # cpu, latency (~7 min)
    sudo .venv/bin/python benchmarks/autoscale.py             # cpu, latency, concurrency

A 3-host testbed (prefix ``gasb``): ``gasb1`` sends the load (no CPU limit), ``gasb2`` and
``gasb3`` are the cluster (0.5 CPU each, cgroups). The service ``burn`` is CPU-bound
(``checksum``: SHA-256 over ``--kib`` KiB per request), each instance asks for ``--cpus`` cores
(its cgroup quota, and the CPU policy's request), at most 2 per cluster host, 1..4 replicas,
a decision every 2 s, cooldown 2 s; ``cpu`` at target 0.6 and ``latency`` (p99 vs ``--slo-ms``)
both with a 20 s scale-down stabilisation window, ``concurrency`` at 1 in flight per replica
(stable 20 s, panic 4 s).

One experiment per policy, the same scenario each time (a ``stages`` profile of two phases):

* **step**: 30 req/s for 20 s, then ``--step-rps`` (150) req/s for 50 s (window
  ``[20, 70)`` s: the step and the steady load after it), then 30 req/s for 30 s;
* **spike**: ``--spike-rps`` (250) req/s for 15 s at 100 s, then 30 req/s for 30 s (window
  ``[100, 145)`` s);
* **run**: the whole run (``[0, 145)`` s), for the totals.

Per policy and phase, from the stored per-second stats and autoscale events of the run
(``RunData.autoscale_metrics``): SLO-violation seconds (p99 over ``--slo-ms``), replica-seconds of
ready replicas, reaction time (step → first scale-up), time to settle, direction changes. Prints
a table and one JSON line per policy, then ``galileo report CPU LATENCY`` (the bootstrap
confidence-interval verdicts). The machine is shared: quote medians over repeats and say how
loaded it was (the JSON carries the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from rich.console import Console

from galileo.analysis.report import load_run
from galileo.experiments.runner import execute
from galileo.experiments.service import ExperimentService
from galileo.settings import Settings
from galileo.storage import ExpDB
from galileo.testbed import Testbed
from galileo.testbed.cgroups import Resources

PREFIX: Final = "gasb"
SERVICE: Final = "burn"
BASE_RPS: Final = 30


def stages(step_rps: float, spike_rps: float) -> list[tuple[int, float]]:
    """(seconds, req/s): base, step, base, spike, base (the phases below)."""
    return [(20, BASE_RPS), (50, step_rps), (30, BASE_RPS), (15, spike_rps), (30, BASE_RPS)]


# step: the steady 150 req/s after the step; spike: the spike and the 30 s after it; run: all
PHASES: Final = {"step": (20.0, 70.0), "spike": (100.0, 145.0), "run": (0.0, 145.0)}
POLICIES: Final[dict[str, dict[str, Any]]] = {
    "cpu": {"target": 0.6, "window_s": 20},
    "latency": {"slo_ms": 0, "window_s": 0},  # filled from --slo-ms and --latency-window
    "concurrency": {"target": 1, "stable_s": 20, "panic_s": 4},
}
COLUMNS: Final = ("slo_violation_s", "replica_seconds", "reaction_s", "settle_s",
                  "direction_changes", "scales", "max_replicas")


def scenario(policy: str, args: argparse.Namespace) -> dict[str, Any]:
    """The same scenario for every policy, its autoscaler aside."""
    options = dict(POLICIES[policy])
    if policy == "latency":
        options.update(slo_ms=args.slo_ms, window_s=args.latency_window)
    return {
        "name": f"autoscale-{policy}",
        "services": [{"name": SERVICE, "app": "checksum", "replicas": 1, "cpus": args.cpus,
                      "hosts": f"{PREFIX}[2-3]", "max_per_host": 2}],
        "autoscalers": [{"service": SERVICE, "policy": policy, "min": 1, "max": 4,
                         "period": args.period, "cooldown": args.cooldown,
                         "options": options}],
        "workloads": [{"service": SERVICE, "clients": 8, "hosts": f"{PREFIX}1",
                       "request": {"method": "GET", "path": f"/checksum?kib={args.kib}"},
                       "timeout_s": 5,
                       "profile": {"type": "stages", "stages": [
                           {"duration": d, "rps": r}
                           for d, r in stages(args.step_rps, args.spike_rps)]}}],
    }


def run_policy(settings: Settings, policy: str, args: argparse.Namespace,
               console: Console) -> str:
    """Run one experiment with ``policy``; returns its id once the recorder has stored it."""
    svc = ExperimentService(settings)
    try:
        exp = svc.create(scenario=scenario(policy, args), name=f"autoscale-{policy}")

        def tick(ctx: Any) -> None:
            status.update(f"{policy}: {ctx.stage or 'running'} ({100 * ctx.progress:.0f} %)")

        with console.status(f"{policy}: starting") as status:
            outcome = execute(settings, exp.id, db=svc.db, on_tick=tick)
        if outcome is None:
            raise RuntimeError(f"experiment {exp.id} did not run")
        console.print(f"{policy}: {exp.id} {outcome.status.value}")
        time.sleep(4.0)  # the recorder stores the last traces and events
        return exp.id
    finally:
        svc.close()


def health_kills(db: ExpDB, exp_id: str) -> int:
    """Instances of the service the node agents killed during the run because their health
    check failed (overload makes ``/health`` time out: see docs/evaluation.md, Autoscalers)."""
    exp = db.get_experiment(exp_id)
    if exp is None or not exp.start or not exp.end:
        return 0
    lo, hi = exp.start * 1e9, exp.end * 1e9
    kills = {(e["data"].get("instance"), e["data"].get("restarts")) for e in db.events()
             if str(e["kind"]) == "instance_state" and lo <= int(e["ts_ns"]) <= hi
             and e["name"] == SERVICE and "health check" in str(e["data"].get("reason"))}
    return len(kills)


def evaluate(db: ExpDB, exp_id: str, slo_ms: float) -> dict[str, Any]:
    """Per phase the metrics of the run, the policy as its decisions name it, and how many
    instances were killed for a failed health check."""
    run = load_run(db, exp_id)
    series = run.replicas.get(SERVICE)
    out: dict[str, Any] = {"policy_spec": series.decisions[0].policy if series else "",
                           "health_kills": health_kills(db, exp_id)}
    for phase, (lo, hi) in PHASES.items():
        out[phase] = run.autoscale_metrics(slo_ms, SERVICE, start_s=lo, end_s=hi).as_dict()
    return out


def print_table(results: dict[str, dict[str, Any]]) -> None:
    head = f"{'policy':<32}{'phase':<7}" + "".join(f"{c:>18}" for c in COLUMNS)
    print(head + f"{'health_kills':>14}")
    for policy, r in results.items():
        for phase in PHASES:
            m = r[phase]
            print(f"{policy:<32}{phase:<7}" + "".join(
                f"{'–' if m[c] is None else m[c]:>18}" for c in COLUMNS)
                + (f"{r['health_kills']:>14}" if phase == "run" else ""))


def reevaluate(path: Path, slo_ms: float) -> None:
    """The table and JSON lines again, from a copy kept with ``--keep-db``."""
    with ExpDB(f"sqlite:///{path.resolve()}") as db:
        runs = [(e.name.removeprefix("autoscale-"), e.id) for e in db.list_experiments()
                if e.name.startswith("autoscale-")]
        results = {f"{policy} {exp_id}": evaluate(db, exp_id, slo_ms) for policy, exp_id in runs}
    print_table(results)
    for name, r in results.items():
        policy, exp_id = name.split(" ")
        print(json.dumps({"bench": "autoscale", "policy": policy, "exp_id": exp_id,
                          "slo_ms": slo_ms, **r}))


def report(tb: Testbed, a: str, b: str, out: Path) -> str:
    """``galileo report A B`` on the testbed's expdb: its printed verdicts."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    s = tb.settings()
    env.update({"galileo_redis_url": s.redis_url or "",
                "galileo_expdb_sqlite_path": str(tb.expdb_path),
                "galileo_data_dir": str(s.data_dir)})
    done = subprocess.run([sys.executable, "-m", "galileo", "report", a, b, "-o", str(out)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    return done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="cpu and latency only")
    parser.add_argument("--policies", default="", help="comma-separated (default: all three)")
    parser.add_argument("--slo-ms", type=float, default=50.0)
    parser.add_argument("--kib", type=int, default=2048, help="KiB hashed per request")
    parser.add_argument("--step-rps", type=float, default=150.0)
    parser.add_argument("--spike-rps", type=float, default=250.0)
    parser.add_argument("--cpus", type=float, default=0.25, help="cores per instance")
    parser.add_argument("--latency-window", type=float, default=20.0,
                        help="the latency policy's scale-down stabilisation window (s); 20 is "
                             "the cpu policy's here, 0 the policy's default")
    parser.add_argument("--policy-modules", default="",
                        help="galileo_autoscale_policy_modules for a policy of your own")
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--cooldown", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("autoscale-report.html"))
    parser.add_argument("--keep-db", type=Path, default=None,
                        help="copy the testbed's expdb (SQLite) here before it goes down")
    parser.add_argument("--from-db", type=Path, default=None,
                        help="no run: evaluate the autoscale-* experiments of this expdb copy")
    args = parser.parse_args()
    if args.from_db is not None:
        reevaluate(args.from_db, args.slo_ms)
        return
    policies = ([p for p in args.policies.split(",") if p] or
                (["cpu", "latency"] if args.quick else list(POLICIES)))
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        parser.error(f"unknown policy {unknown[0]!r} (one of {', '.join(POLICIES)})")
    console = Console(stderr=True)
    load = os.getloadavg()[0]
    results: dict[str, dict[str, Any]] = {}
    ids: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        Testbed.down_prefix(Path(tmp), PREFIX)
        limits = {f"{PREFIX}{i}": Resources(cpus=0.5) for i in (2, 3)}
        with console.status("testbed up (3 hosts, 2 x 0.5 CPU)"):
            tb = Testbed.up(3, data_dir=Path(tmp), prefix=PREFIX, host_resources=limits)
        with tb:
            settings = tb.settings(galileo_autoscale_policy_modules=args.policy_modules)
            for policy in policies:
                ids[policy] = run_policy(settings, policy, args, console)
            with ExpDB(f"sqlite:///{tb.expdb_path}") as db:
                for policy, exp_id in ids.items():
                    results[policy] = evaluate(db, exp_id, args.slo_ms)
            print_table(results)
            for policy, r in results.items():
                print(json.dumps({"bench": "autoscale", "policy": policy, "exp_id": ids[policy],
                                  "slo_ms": args.slo_ms, "kib": args.kib, "cpus": args.cpus,
                                  "latency_window_s": args.latency_window,
                                  "step_rps": args.step_rps, "spike_rps": args.spike_rps,
                                  "period_s": args.period, "cooldown_s": args.cooldown,
                                  "loadavg_at_start": round(load, 1), **r}))
            if "cpu" in ids and "latency" in ids:
                print(f"galileo report {ids['cpu']} {ids['latency']}:")
                print(report(tb, ids["cpu"], ids["latency"], args.out.resolve()))
            if args.keep_db is not None:
                with sqlite3.connect(tb.expdb_path) as src, \
                        sqlite3.connect(args.keep_db) as copy:
                    src.backup(copy)  # a consistent copy, WAL included


if __name__ == "__main__":
    main()
