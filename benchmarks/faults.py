"""Faults and the control plane at scale.

    .venv/bin/python benchmarks/faults.py [--part faults|scale|all] [--soak]

``--part faults``: every fault scenario of ``tests/faults/faultscenarios.py`` (the fault suite
runs the same code) in a fresh rig -- its own ``redis-server`` (killed and restarted EMPTY), a
counting HTTP target, ``galileo worker``/``recorder``/``runner`` subprocesses, an SQLite expdb --
and prints one row each: scenario, sent, recorded, duplicated, misfiled, recovery time (what
"recovered" means is in the last column). Goals: 0 lost, 0 duplicated, 0 misfiled, load resumes
<= 5 s after Redis returns.

``--part scale``: ``--identities`` (200) worker identities, ``--per-process`` (20) of them in
each of 10 processes (each identity is a full ``galileo.worker.Worker`` -- own Redis
connections, command channel, heartbeat and load engine -- sharing one event loop per process),
on the Redis at ``GALILEO_TEST_REDIS_URL`` (default: the local one). Measured, medians over
``--reps`` runs: ``g.spawn()`` of ``--clients`` (10,000) clients across all identities (goal
<= 2 s); ``rps()`` on that group, per-identity send-to-applied latency, p99 (goal <= 100 ms)
and the call's wall time; ``galileo workers`` as a user runs it (a fresh process, goal <= 1 s)
and ``g.workers()`` in-process.

``--soak``: runs ``benchmarks/soak.py`` (the 30-minute RSS soak) when it exists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "faults"))

LOCAL_REDIS_URL = os.environ.get("GALILEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
console = Console(width=150)


# ---------------------------------------------------------------------- faults
def faults(names: list[str]) -> None:
    import faultscenarios as fs

    table = Table(title="faults (each in a fresh rig; one run each)")
    for col in ("scenario", "sent", "recorded", "lost", "duplicated", "misfiled", "recovery",
                "recovery means"):
        table.add_column(col, justify="left" if col in ("scenario", "recovery means")
                         else "right")
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"galileo-fault-{name}-") as tmp:
            console.print(f"[dim]running {name} …[/dim]")
            try:
                r = fs.run(name, Path(tmp))
            except AssertionError as e:
                table.add_row(name, "-", "-", "-", "-", "-", "-", f"[red]failed: {e}[/red]")
                continue
        recovery = "-" if r.recovery_s is None else f"{r.recovery_s:.2f} s"
        table.add_row(r.scenario, str(r.sent), str(r.recorded), str(r.lost), str(r.duplicated),
                      str(r.misfiled), recovery, r.recovery)
        for note in r.notes:
            console.print(f"  [yellow]{r.scenario}: {note}[/yellow]")
    console.print(table)


# ---------------------------------------------------------------------- scale
def host_identities(prefix: str, count: int) -> None:
    """Child mode: run ``count`` worker identities in this process until stdin closes."""
    from galileo.settings import Settings
    from galileo.worker.daemon import Worker

    settings = Settings.from_env()

    async def main() -> None:
        workers = [Worker(settings, name=f"{prefix}-{i:03d}", processes=1) for i in range(count)]
        await asyncio.gather(*(w.start() for w in workers))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await asyncio.gather(*(w.stop() for w in workers))

    asyncio.run(main())


def scale(identities: int, per_process: int, clients: int, reps: int) -> None:
    from galileo.control import Galileo
    from galileo.localenv import settings_env
    from galileo.settings import Settings

    ns = "bench-scale-" + uuid.uuid4().hex[:6]
    tmp = tempfile.mkdtemp(prefix="galileo-scale-")
    settings = Settings.from_env({"galileo_redis_url": LOCAL_REDIS_URL, "galileo_namespace": ns,
                                  "galileo_data_dir": tmp, "galileo_log_level": "WARNING"})
    env = settings_env(settings)
    procs = []
    try:
        for p in range(0, identities, per_process):
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "--host-identities", str(min(per_process,
                                                                          identities - p)),
                 "--prefix", f"bw{p // per_process:02d}"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True))
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with Galileo(settings) as g:
            deadline = time.monotonic() + 60
            while len(g.workers()) < identities and time.monotonic() < deadline:
                time.sleep(0.1)
            console.print(f"[dim]{len(g.workers())} of {identities} identities registered[/dim]")
            spawn_s, rps_p99, rps_wall, g_workers = [], [], [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                group = g.spawn("svc", clients, rps=0)
                spawn_s.append(time.perf_counter() - t0)
                for rate in (100.0, 0.0):
                    t0 = time.perf_counter()
                    change = group.rps(rate)
                    rps_wall.append(time.perf_counter() - t0)
                    lat = sorted(change.latency_ms.values())
                    if change.lost:
                        console.print(f"[yellow]rps(): {len(change.lost)} identities lost "
                                      "(heartbeats late: the machine is overloaded)[/yellow]")
                    rps_p99.append(lat[max(0, int(len(lat) * 0.99) - 1)] if lat
                                   else float("nan"))
                t0 = time.perf_counter()
                group.close(timeout=60)
                console.print(f"[dim]spawn {spawn_s[-1]:.2f} s, rps p99 {rps_p99[-1]:.1f} ms "
                              f"(wall {rps_wall[-1]:.2f} s), close "
                              f"{time.perf_counter() - t0:.2f} s[/dim]")
                t0 = time.perf_counter()
                n = len(g.workers())
                g_workers.append(time.perf_counter() - t0)
            cli = []
            for _ in range(reps):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "galileo", "workers"], env=env,
                               capture_output=True, check=True)
                cli.append(time.perf_counter() - t0)
        table = Table(title=f"control plane: {n} worker identities ({per_process} per process),"
                            f" {clients} clients; medians of {reps}")
        for col in ("measure", "median", "goal"):
            table.add_column(col, justify="left" if col == "measure" else "right")
        med = statistics.median
        table.add_row("spawn across all", f"{med(spawn_s) * 1000:.0f} ms", "<= 2000 ms")
        table.add_row("rps() applied, p99 over identities", f"{med(rps_p99):.1f} ms",
                      "<= 100 ms")
        table.add_row("rps() call wall time", f"{med(rps_wall) * 1000:.0f} ms", "")
        table.add_row("`galileo workers` (fresh process)", f"{med(cli) * 1000:.0f} ms",
                      "<= 1000 ms")
        table.add_row("g.workers() in-process", f"{med(g_workers) * 1000:.1f} ms", "")
        console.print(table)
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("faults", "scale", "all"), default="all")
    parser.add_argument("--scenario", action="append", help="only these fault scenarios")
    parser.add_argument("--identities", type=int, default=200)
    parser.add_argument("--per-process", type=int, default=20)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--soak", action="store_true", help="also run benchmarks/soak.py")
    parser.add_argument("--host-identities", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="bw", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host_identities:
        host_identities(args.prefix, args.host_identities)
        return
    if args.part in ("faults", "all"):
        import faultscenarios as fs

        faults(args.scenario or list(fs.SCENARIOS))
    if args.part in ("scale", "all"):
        scale(args.identities, args.per_process, args.clients, args.reps)
    if args.soak:
        soak = ROOT / "benchmarks" / "soak.py"
        if soak.exists():
            subprocess.run([sys.executable, str(soak)], check=False)
        else:
            console.print("[yellow]benchmarks/soak.py is not there (yet); no soak run[/yellow]")


if __name__ == "__main__":
    main()
