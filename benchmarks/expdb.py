"""Trace ingest rate of the experiment database, per backend.

    .venv/bin/python benchmarks/expdb.py [--traces 100000] [--batch 500]

Inserts ``--traces`` generated traces in batches of ``--batch`` (one transaction per batch, as
the recorder does) into a scratch database on each backend and prints rows/s. A backend that does
not answer is skipped with a line saying so. URLs: ``GALILEO_TEST_MYSQL_URL`` /
``GALILEO_TEST_POSTGRESQL_URL`` (defaults: the local test servers).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

from galileo.errors import StorageError
from galileo.protocol import TRACE_BATCH_MAX, Trace
from galileo.storage import ExpDB
from galileo.storage.scratch import scratch_database

BACKENDS = {
    "sqlite": None,  # a file in a temporary directory
    "mariadb": os.environ.get("GALILEO_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
    "postgresql": os.environ.get(
        "GALILEO_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
}


def make_traces(n: int, exp_id: str = "202401010000-bench") -> list[Trace]:
    t0 = time.time_ns()
    return [
        Trace(request_id=uuid.uuid4().hex, exp_id=exp_id, group_id="g1", client_id=f"c{i % 50}",
              worker="w1", service="svc", host="10.0.0.1:8080", method="GET", path="/api/item",
              intended_ns=t0 + i * 1000, sent_ns=t0 + i * 1000 + 50, done_ns=t0 + i * 1000 + 900,
              status=200, error="", bytes_received=512)
        for i in range(n)
    ]


def bench(url: str, traces: list[Trace], batch: int) -> float:
    """Rows per second inserting ``traces`` into a scratch database next to ``url``."""
    with scratch_database(url, prefix="gbench") as scratch, ExpDB(scratch) as db:
        db.insert_traces(make_traces(10))  # warm up connection and statement cache
        start = time.perf_counter()
        written = 0
        for i in range(0, len(traces), batch):
            written += db.insert_traces(traces[i:i + batch])
        elapsed = time.perf_counter() - start
        if written != len(traces):
            raise SystemExit(f"expected {len(traces)} rows written, driver reported {written}")
        return len(traces) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=TRACE_BATCH_MAX)
    args = parser.parse_args()
    traces = make_traces(args.traces)
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in BACKENDS.items():
            url = url or f"sqlite:///{tmp}/bench.sqlite"
            try:
                rate = bench(url, traces, args.batch)
            except StorageError as e:
                print(f"{name:<11} skipped: {e}")
                continue
            print(f"{name:<11} {rate:>10,.0f} rows/s  ({args.traces:,} traces, batches of "
                  f"{args.batch})")


if __name__ == "__main__":
    main()
