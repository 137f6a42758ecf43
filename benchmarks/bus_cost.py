"""What one trace costs Redis: server CPU per million traces on the traces stream.

Starts a private ``redis-server`` (its CPU is ours alone: ``INFO cpu`` before and after), writes
``--entries`` real trace batches (``TRACE_BATCH_MAX`` traces each, encoded as workers encode
them: in columns; ``--form rows`` for the rows form Galileo sent before) the way workers do (the
capped ``XADD`` script, pipelined), then reads, acknowledges and deletes them the way the
recorder does (``XREADGROUP`` + ``XACK`` + ``XDEL``). Prints a table and one JSON line: Redis
CPU-seconds per million traces for each side, bytes per trace in Redis, and the traces/s one
Redis core could carry at that cost -- the per-unit figures ``docs/scale.md`` extrapolates
from::

    .venv/bin/python benchmarks/bus_cost.py
    .venv/bin/python benchmarks/bus_cost.py --entries 2000 --repeats 5 --form rows
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from galileo import bus
from galileo.localenv import free_port, wait_for_port
from galileo.protocol import (
    TRACE_BATCH_MAX,
    Keys,
    Trace,
    TraceBatch,
    TraceField,
    encode,
    encode_trace_batch,
)
from galileo.settings import Settings
from galileo.worker.traces import CAPPED_XADD

console = Console()
T0 = 1_700_000_000_000_000_000


def batch_payload(form: str = "columns") -> bytes:
    traces = [Trace(request_id=uuid.uuid4().hex, exp_id="202612070300-abcd", group_id="g" * 32,
                    client_id="c1", worker="worker-01", service="svc", host="10.0.0.1:8080",
                    method="GET", path="/api/items/42", intended_ns=T0 + i, sent_ns=T0 + i + 50,
                    done_ns=T0 + i + 900_000, status=200, bytes_received=512)
              for i in range(TRACE_BATCH_MAX)]
    if form == "rows":
        return encode(TraceBatch(worker="worker-01", traces=traces))
    return encode_trace_batch("worker-01", traces)


def cpu_s(client: bus.Bus) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def one_round(client: bus.Bus, keys: Keys, payload: bytes, entries: int) -> dict[str, float]:
    client.delete(keys.traces)
    client.xgroup_create(keys.traces, Keys.RECORDER_GROUP, id="0", mkstream=True)
    mem0 = int(client.info("memory")["used_memory"])
    c0 = cpu_s(client)
    for start in range(0, entries, 64):  # as TraceWriter.flush: 64 batches a round trip
        n = min(64, entries - start)
        client.eval(CAPPED_XADD, 1, keys.traces, entries + 1, TraceField, *([payload] * n))
    c1 = cpu_s(client)
    mem = int(client.info("memory")["used_memory"]) - mem0
    while True:  # as the recorder: read 20 entries, then ack + delete them
        reply = client.xreadgroup(Keys.RECORDER_GROUP, "bench", {keys.traces: ">"}, count=20)
        if not reply:
            break
        ids = [eid for eid, _ in reply[0][1]]
        pipe = client.pipeline(transaction=False)
        pipe.xack(keys.traces, Keys.RECORDER_GROUP, *ids)
        pipe.xdel(keys.traces, *ids)
        pipe.execute()
    c2 = cpu_s(client)
    traces = entries * TRACE_BATCH_MAX
    return {"write_cpu_s_per_m": (c1 - c0) / traces * 1e6,
            "read_cpu_s_per_m": (c2 - c1) / traces * 1e6,
            "bytes_per_trace": mem / traces}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000, help="batches per round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--form", choices=["columns", "rows"], default="columns",
                        help="how batches are encoded (workers send columns)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="galileo-buscost-"))
    port = free_port()
    server = subprocess.Popen([bus.redis_server_binary(), "--port", str(port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                               str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        settings = Settings.from_env({"galileo_redis_url": f"redis://127.0.0.1:{port}/0"})
        client = bus.connect(settings)
        keys = Keys("buscost")
        payload = batch_payload(args.form)
        rounds = []
        started = time.monotonic()
        for _ in range(args.repeats):
            rounds.append(one_round(client, keys, payload, args.entries))
        client.close()
    finally:
        server.terminate()
        server.wait(10)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    both = med["write_cpu_s_per_m"] + med["read_cpu_s_per_m"]
    result = {"benchmark": "bus_cost", "form": args.form,
              "traces_per_round": args.entries * TRACE_BATCH_MAX,
              "repeats": args.repeats, "payload_bytes_per_trace": len(payload) / TRACE_BATCH_MAX,
              **{k: round(v, 3) for k, v in med.items()},
              "traces_per_redis_core_s": round(1e6 / both) if both else None,
              "seconds": round(time.monotonic() - started, 1)}
    table = Table(title=f"Redis cost of the traces stream, batches in {args.form} (medians)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("payload per trace (msgpack)", f"{result['payload_bytes_per_trace']:.0f} B")
    table.add_row("Redis memory per waiting trace", f"{med['bytes_per_trace']:.0f} B")
    table.add_row("Redis CPU, write (capped XADD)", f"{med['write_cpu_s_per_m']:.2f} s / M traces")
    table.add_row("Redis CPU, read + ack + delete", f"{med['read_cpu_s_per_m']:.2f} s / M traces")
    table.add_row("one Redis core carries", f"{result['traces_per_redis_core_s']:,} traces/s")
    console.print(table)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
