"""etcd mirror latency: a routing change → the key Galileo 0.x's load balancer reads.

    .venv/bin/python benchmarks/etcd_sync.py [--changes 200]

Starts a local etcd (Debian's etcd-server) in a temporary directory and the mirror in this
process (`galileo.interop.etcd`, as `galileo rtbl mirror-etcd` or the recorder runs it) on the
Redis at GALILEO_TEST_REDIS_URL (default: the local one). Each change sets the `echo` record with
new weights, then polls etcd's range API until the key holds the new value; prints p50/p99/max of
that time over `--changes` changes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from rich.progress import track

from galileo.control.galileo import Galileo
from galileo.interop.etcd import EtcdGateway, start_in_thread
from galileo.interop.local import LocalEtcd
from galileo.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        etcd = LocalEtcd(Path(tmp) / "etcd", Path(tmp) / "etcd.log")
        etcd.start()
        settings = Settings.from_env({
            "galileo_redis_url": os.environ.get("GALILEO_TEST_REDIS_URL",
                                                "redis://127.0.0.1:6379/0"),
            "galileo_namespace": f"gbench-{uuid.uuid4().hex[:8]}", "galileo_data_dir": tmp,
            "galileo_etcd_mirror_endpoint": etcd.url, "galileo_log_level": "WARNING"})
        stop = threading.Event()
        mirror = start_in_thread(settings, stop)
        g = Galileo.from_settings(settings)
        reader = EtcdGateway(etcd.url)
        key = f"{settings.etcd_mirror_prefix}/{settings.etcd_mirror_zone}/echo"
        latencies = []
        try:
            for i in track(range(args.changes), description="routing changes"):
                weights = [1, 2 + i % 7]
                want = json.dumps({"ips": ["10.0.0.5:80", "10.0.0.6:80"], "weights": weights},
                                  separators=(",", ":")).encode()
                t0 = time.perf_counter()
                g.rtbl.set("echo", ["10.0.0.5:80", "10.0.0.6:80"], weights)
                while reader.get_prefix(key).get(key) != want:
                    if time.perf_counter() - t0 > 10:
                        raise SystemExit(f"change {i} not mirrored within 10 s")
                    time.sleep(0.0005)
                latencies.append(time.perf_counter() - t0)
        finally:
            g.rtbl.clear()
            g.close()
            stop.set()
            mirror.join(5)
            etcd.stop()
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"etcd sync after a routing change: p50 {statistics.median(ms):.1f} ms, p99 "
          f"{p99:.1f} ms, max {ms[-1]:.1f} ms over {len(ms)} changes")


if __name__ == "__main__":
    main()
