"""Soak: worker and recorder RSS under a steady open-loop load (goal: flat, <= 10 MB growth).

Starts a target (nginx when installed, else the built-in echo app), one ``galileo worker`` and
one ``galileo recorder`` as real processes on the local Redis (or an embedded one) with an
SQLite expdb in a temp dir, runs one client group at ``--rps`` inside an experiment for
``--minutes``, and samples the RSS of the worker (with its load processes) and the recorder
every ``--sample-s``. Growth is measured from the end of the warm-up (``--warmup-s``, or 20 %
of the run if that is shorter) to the end, and reported with the requests sent meanwhile::

    .venv/bin/python benchmarks/soak.py                 # 30 minutes at 2,000 req/s
    .venv/bin/python benchmarks/soak.py --minutes 4 --plot soak.png

``benchmarks/faults.py --soak`` runs it. Not part of CI.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.live import Live
from rich.table import Table

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.localenv import ProcessGroup, free_port, wait_for_port
from galileo.settings import Settings

console = Console()
MB = 1024 * 1024
GOAL_MB = 10.0


@dataclass
class Sample:
    t_s: float
    worker_mb: float
    recorder_mb: float
    sent: int
    worker_main_mb: float = float("nan")  # the worker's main process alone (bus, stats, traces)


def rss_mb(proc: subprocess.Popen[bytes], children: bool = True) -> float:
    """RSS of ``proc`` and (``children``) its children (the worker's load processes), in MB."""
    try:
        p = psutil.Process(proc.pid)
        family = [p, *p.children(recursive=True)] if children else [p]
        return float(sum(q.memory_info().rss for q in family)) / MB
    except psutil.NoSuchProcess:
        return float("nan")


def start_target(workdir: Path, settings: Settings, procs: ProcessGroup,
                 kind: str) -> tuple[str, subprocess.Popen[bytes] | None]:
    port = free_port()
    if kind == "nginx":
        conf = workdir / "nginx.conf"
        conf.write_text(
            f"worker_processes 1;\ndaemon off;\npid {workdir}/nginx.pid;\n"
            f"error_log {workdir}/nginx-error.log;\nevents {{ worker_connections 4096; }}\n"
            f"http {{ access_log off; keepalive_requests 10000000;\n"
            + "".join(f"  {t}_temp_path {workdir};\n"
                      for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + f"  server {{ listen 127.0.0.1:{port}; location / {{ return 200 'ok'; }} }}\n}}\n")
        nginx = subprocess.Popen(["nginx", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        wait_for_port("127.0.0.1", port)
        return f"127.0.0.1:{port}", nginx
    procs.start("target", ["app", "serve", "echo", "--port", str(port)])
    wait_for_port("127.0.0.1", port, timeout_s=60)
    return f"127.0.0.1:{port}", None


def growth(samples: list[Sample], warmup_s: float) -> tuple[Sample, Sample]:
    after = [s for s in samples if s.t_s >= warmup_s] or samples
    return after[0], samples[-1]


def table(samples: list[Sample], rps: float) -> Table:
    t = Table(title=f"soak at {rps:,.0f} req/s")
    for col in ("t (s)", "worker RSS (MB)", "of it: main process", "recorder RSS (MB)",
                "requests sent"):
        t.add_column(col, justify="right")
    for s in samples[-12:]:
        t.add_row(f"{s.t_s:.0f}", f"{s.worker_mb:.1f}", f"{s.worker_main_mb:.1f}",
                  f"{s.recorder_mb:.1f}", f"{s.sent:,}")
    return t


def plot(samples: list[Sample], path: Path, warmup_s: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    ts = [s.t_s / 60 for s in samples]
    ax.plot(ts, [s.worker_mb for s in samples], label="worker (+ load processes)")
    ax.plot(ts, [s.worker_main_mb for s in samples], label="worker main process")
    ax.plot(ts, [s.recorder_mb for s in samples], label="recorder")
    ax.axvline(warmup_s / 60, color="grey", linestyle=":", label="end of warm-up")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MB)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def redis_url() -> str | None:
    local = Settings.from_env({"galileo_redis_url": "redis://127.0.0.1:6379/0"})
    with contextlib.suppress(bus.BusError):
        bus.connect(local).close()
        return "redis://127.0.0.1:6379/0"
    return None  # embedded


def run(args: argparse.Namespace) -> list[Sample]:
    workdir = Path(tempfile.mkdtemp(prefix="galileo-soak-"))
    env = {"galileo_namespace": "soak-" + uuid.uuid4().hex[:8],
           "galileo_data_dir": str(workdir / "data"),
           "galileo_expdb_sqlite_path": str(workdir / "expdb.sqlite"),
           "galileo_log_level": "WARNING"}
    url = args.redis_url or redis_url()
    if url:
        env["galileo_redis_url"] = url
    settings = Settings.from_env(env)
    kind = args.target if args.target != "auto" else (
        "nginx" if shutil.which("nginx") else "echo")
    samples: list[Sample] = []
    nginx: subprocess.Popen[bytes] | None = None
    with ProcessGroup(settings) as procs:
        try:
            target, nginx = start_target(workdir, settings, procs, kind)
            worker = procs.start("worker", ["worker", "--name", "soak-w", "--processes",
                                            str(args.processes)])
            recorder = procs.start("recorder", ["recorder"])
            g = Galileo(settings)
            deadline = time.monotonic() + 60
            while not g.workers() and time.monotonic() < deadline:
                time.sleep(0.2)
            g.rtbl.set("soak", [target], [1])
            g.experiment.start(name="soak")
            if args.no_tracing:  # bisecting: the load and stats without trace shipping
                g.tracing(False)
            group = g.spawn("soak", args.clients, rps=args.rps)
            console.print(f"target {kind} at {target}; worker pid {worker.pid}, recorder pid "
                          f"{recorder.pid}; {args.minutes} min at {args.rps:,.0f} req/s")
            started = time.monotonic()
            end = started + args.minutes * 60
            sent, seen = 0, set()
            with Live(table(samples, args.rps), console=console, refresh_per_second=1) as live:
                while time.monotonic() < end:
                    time.sleep(min(args.sample_s, max(0.0, end - time.monotonic())))
                    for sec in group.stats(seconds=int(args.sample_s) + 2):
                        if sec.second not in seen:
                            seen.add(sec.second)
                            sent += sec.sent
                    samples.append(Sample(time.monotonic() - started, rss_mb(worker),
                                          rss_mb(recorder), sent,
                                          rss_mb(worker, children=False)))
                    live.update(table(samples, args.rps))
            samples[-1].sent = max(samples[-1].sent, group.close()["sent"])
            g.experiment.stop()
            g.close()
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(10)
    if args.keep:
        console.print(f"kept {workdir} (logs in {workdir / 'data' / 'logs'})")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rps", type=float, default=2000.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2,
                        help="worker load processes (the main process then only heartbeats and "
                             "answers commands, so a loaded machine cannot starve its heartbeat)")
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=180.0)
    parser.add_argument("--target", choices=("auto", "nginx", "echo"), default="auto")
    parser.add_argument("--redis-url", default=None, help="default: local Redis, else embedded")
    parser.add_argument("--plot", type=Path, default=None, help="write an RSS-over-time PNG")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and its logs")
    parser.add_argument("--no-tracing", action="store_true",
                        help="turn tracing off (per-second stats only), to bisect a growth")
    args = parser.parse_args(argv)
    samples = run(args)
    if len(samples) < 2:
        console.print("too short to measure")
        return 1
    warmup = min(args.warmup_s, 0.2 * args.minutes * 60)
    first, last = growth(samples, warmup)
    requests = max(1, last.sent - first.sent)
    for name, a, b in (("worker", first.worker_mb, last.worker_mb),
                       ("  its main process", first.worker_main_mb, last.worker_main_mb),
                       ("recorder", first.recorder_mb, last.recorder_mb)):
        verdict = "ok" if b - a <= GOAL_MB else "OVER GOAL"
        console.print(f"{name}: {a:.1f} MB at {first.t_s:.0f} s -> {b:.1f} MB at {last.t_s:.0f} s"
                      f": growth {b - a:+.1f} MB over {requests:,} requests "
                      f"({(b - a) * MB / requests:.1f} B/request) [{verdict}, goal <= "
                      f"{GOAL_MB:.0f} MB]")
    console.print(f"achieved rate: {last.sent / max(last.t_s, 1):,.0f} req/s")
    stalled = [b.t_s for a, b in itertools.pairwise(samples) if b.sent == a.sent]
    if stalled:
        console.print(f"[bold red]load stalled[/] (no request sent) in the samples at "
                      f"{', '.join(f'{t:.0f}' for t in stalled[:5])} s: the figures are void")
        return 1
    if args.plot:
        plot(samples, args.plot, warmup)
        console.print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
