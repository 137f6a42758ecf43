"""CPU overhead of the telemetry agent at 1 Hz with every instrument (goal: < 1 % of one core).

Runs ``galileo telemd`` as its own process (per-core CPU and frequency on, container discovery
on, two named processes watched, seed topics published) against the local Redis, lets it warm
up, then reads the process's CPU time over ``--seconds``. Also reports the cost of one tick
measured in-process::

    .venv/bin/python benchmarks/telemd.py --seconds 60
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import redis

from galileo.localenv import ProcessGroup
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.telemetry import Agent, AgentOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    ns = "bench-" + uuid.uuid4().hex[:8]
    node = "bench-node-" + ns[-8:]
    data = Path(tempfile.mkdtemp(prefix="galileo-telemd-bench-"))
    settings = Settings.from_env({"galileo_redis_url": args.redis_url, "galileo_namespace": ns,
                                  "galileo_data_dir": str(data), "galileo_log_level": "WARNING"})
    client = redis.Redis.from_url(args.redis_url)
    keys = Keys(ns)
    try:
        with ProcessGroup(settings) as procs:
            proc = procs.start("telemd", [
                "telemd", "--node", node, "--period", "1", "--per-core",
                "--proc", f"self={os.getpid()}", "--proc", "redis=redis-server"])
            time.sleep(args.warmup)
            agent = psutil.Process(proc.pid)
            before = agent.cpu_times()
            t0 = time.monotonic()
            time.sleep(args.seconds)
            after = agent.cpu_times()
            elapsed = time.monotonic() - t0
            used = (after.user - before.user) + (after.system - before.system)
            entries = client.xlen(keys.telemetry)
        # per-tick cost, in-process
        with Agent(settings, node + "-inproc",
                   AgentOptions(per_core=True, processes={"self": os.getpid()})) as inproc:
            inproc.tick(force=True)
            n = 100
            c0 = time.process_time()
            for _ in range(n):
                inproc.tick(force=True)
            tick_ms = (time.process_time() - c0) / n * 1000
            samples = inproc.stats.samples / (n + 1)
        print(f"agent process: {used / elapsed * 100:.2f} % of one core at 1 Hz "
              f"({used * 1000 / elapsed:.1f} ms CPU per second, {entries} stream entries)")
        print(f"one tick in-process: {tick_ms:.2f} ms CPU for ~{samples:.0f} samples")
    finally:
        for key in client.scan_iter(f"{ns}:*"):
            client.delete(key)
        client.delete(Keys.telemd_info(node), Keys.telemd_info(node + "-inproc"))
        client.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
