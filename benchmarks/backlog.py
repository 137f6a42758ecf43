"""The bounded trace backlog under load: the recorder stopped for a minute, then back.

Starts a private ``redis-server`` (so its memory figure is ours alone), a target (nginx when
installed, else the built-in echo app), one ``galileo worker`` and an SQLite expdb in a temp dir.
A client group runs at ``--rps`` for ``--seconds`` with NO recorder, under a traces-stream cap of
``--cap`` entries; Redis memory and the stream length are sampled meanwhile. Then a recorder
starts and the benchmark waits until every request sent is a row. It prints a live table and one
JSON line: the peak stream length against the cap, Redis's peak memory above its idle figure,
the traces spilled to the worker's disk, requests sent vs rows stored (lost, duplicated) and how
long the recorder took to catch up::

    .venv/bin/python benchmarks/backlog.py                      # 60 s at 5,000 req/s, cap 200
    .venv/bin/python benchmarks/backlog.py --seconds 20 --rps 2000

Goal (issue "At cluster scale"): Redis memory under the cap, 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from soak import start_target

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.localenv import ProcessGroup, free_port, wait_for_port
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.storage import ExpDB

console = Console()
MB = 2**20


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([bus.redis_server_binary(), "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                             str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port("127.0.0.1", port)
    return proc, f"redis://127.0.0.1:{port}/0"


def spill_bytes(workdir: Path) -> int:
    return sum(p.stat().st_size for p in (workdir / "data" / "spill").rglob("*.spill"))


def table(rows: list[tuple[float, int, float, int]], cap: int, phase: str) -> Table:
    t = Table(title=f"trace backlog ({phase}), cap {cap} entries")
    for col in ("t (s)", "stream entries", "Redis used MB", "requests sent"):
        t.add_column(col, justify="right")
    for ts, entries, mem, sent in rows[-10:]:
        t.add_row(f"{ts:.0f}", str(entries), f"{mem:.1f}", f"{sent:,}")
    return t


def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="galileo-backlog-"))
    redis_proc, url = start_redis(workdir)
    env = {"galileo_redis_url": url, "galileo_namespace": "bl-" + uuid.uuid4().hex[:6],
           "galileo_data_dir": str(workdir / "data"),
           "galileo_expdb_sqlite_path": str(workdir / "expdb.sqlite"),
           "galileo_log_level": "WARNING",
           "galileo_trace_backlog_max_entries": str(args.cap)}
    settings = Settings.from_env(env)
    keys = Keys(settings.namespace)
    client = bus.connect(settings)
    rows: list[tuple[float, int, float, int]] = []
    try:
        with ProcessGroup(settings) as procs:
            target, nginx = start_target(workdir, settings, procs, "nginx" if shutil.which(
                "nginx") else "echo")
            procs.start("worker", ["worker", "--name", "bl-w", "--processes",
                                   str(args.processes)],
                        galileo_trace_backlog_max_entries=str(args.cap),
                        galileo_worker_trace_memory_mb=str(args.worker_memory_mb))
            g = Galileo(settings)
            deadline = time.monotonic() + 60
            while not g.workers() and time.monotonic() < deadline:
                time.sleep(0.2)
            idle_mb = int(client.info("memory")["used_memory"]) / MB
            g.rtbl.set("bl", [target], [1])
            g.experiment.start(name="backlog")
            group = g.spawn("bl", args.clients, rps=args.rps)
            started = time.monotonic()
            spill_peak = 0
            with Live(table(rows, args.cap, "recorder stopped"), console=console,
                      refresh_per_second=2) as live:
                while (now := time.monotonic()) < started + args.seconds:
                    time.sleep(0.5)
                    mem = int(client.info("memory")["used_memory"]) / MB
                    sent = sum(s.sent for s in group.stats(seconds=int(args.seconds) + 5))
                    rows.append((now - started, int(client.xlen(keys.traces)), mem, sent))
                    spill_peak = max(spill_peak, spill_bytes(workdir))
                    live.update(table(rows, args.cap, "recorder stopped"))
            totals = group.close()
            g.experiment.stop()
            sent_total = int(totals["sent"])

            elapsed = time.monotonic() - started
            spilled = spill_bytes(workdir)
            recorder_at = time.monotonic()
            procs.start("recorder", ["recorder"])
            with ExpDB.from_settings(settings) as db:
                deadline = recorder_at + args.drain_timeout
                last, still = -1, 0
                while time.monotonic() < deadline and still < 6:  # 3 s of nothing left
                    rows_total = db.count_traces()
                    waiting = int(client.xlen(keys.traces)) + spill_bytes(workdir)
                    still = still + 1 if rows_total == last and rows_total and not waiting else 0
                    last = rows_total
                    time.sleep(0.5)
                drain_s = time.monotonic() - recorder_at - 0.5 * still
                traces = db.traces()
            # every request produces one trace; those never sent (held back at close, or no
            # route) are traced as errors without being counted as sent
            unsent = {"cancelled", "no_route"}
            stored = sum(1 for t in traces if t["error"] not in unsent)
            distinct = len({t["request_id"] for t in traces})
            g.close()
            if nginx is not None:
                nginx.terminate()
                nginx.wait(10)
    finally:
        client.close()
        redis_proc.terminate()
        redis_proc.wait(10)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    peak_entries = max((r[1] for r in rows), default=0)
    peak_mb = max((r[2] for r in rows), default=0.0)
    return {
        "benchmark": "backlog", "rps_target": args.rps, "rps_achieved": round(sent_total / elapsed),
        "recorder_stopped_s": args.seconds, "cap_entries": args.cap,
        "peak_stream_entries": peak_entries, "under_cap": peak_entries <= args.cap,
        "redis_idle_mb": round(idle_mb, 1), "redis_peak_mb": round(peak_mb, 1),
        "redis_growth_mb": round(peak_mb - idle_mb, 1),
        "spill_peak_mb": round(spill_peak / MB, 1),
        "spill_file_mb_at_end": round(spilled / MB, 1),
        "sent": sent_total, "stored": stored, "lost": max(0, sent_total - stored),
        "rows": len(traces), "duplicated": len(traces) - distinct, "drain_s": round(drain_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="recorder stopped this long")
    parser.add_argument("--rps", type=float, default=5000.0)
    parser.add_argument("--cap", type=int, default=200, help="traces stream cap (entries)")
    parser.add_argument("--worker-memory-mb", type=float, default=4.0,
                        help="the worker's in-memory trace backlog before it spills to disk")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and its logs")
    args = parser.parse_args(argv)
    result = run(args)
    console.print(f"stream peak {result['peak_stream_entries']} entries (cap {args.cap}); Redis "
                  f"+{result['redis_growth_mb']} MB; sent {result['sent']:,}, stored "
                  f"{result['stored']:,}, lost {result['lost']}, duplicated "
                  f"{result['duplicated']}; caught up in {result['drain_s']} s", markup=False)
    print(json.dumps(result))
    return 0 if result["under_cap"] and not result["lost"] and not result["duplicated"] else 1


if __name__ == "__main__":
    sys.exit(main())
