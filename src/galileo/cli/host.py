"""``python -m galileo.cli.host --redis redis://HOST --trace-logging redis``: Galileo 0.x's host
application, which is ``galileo worker`` today (traces always go through Redis Streams to the
recorder, so ``--trace-logging`` is accepted and explained, nothing more)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from galileo.cli.legacy import forward

TRACE_LOGGING = ("redis", "file", "mysql", "sql", "none")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m galileo.cli.host",
        description="Galileo 0.x's host application: runs `galileo worker`.")
    parser.add_argument("--redis", help="Redis URL, e.g. redis://HOST (galileo_redis_url)")
    parser.add_argument("--trace-logging", choices=TRACE_LOGGING, default="redis",
                        help="0.x trace sink; traces now always go to Redis Streams")
    parser.add_argument("--name", help="worker name (galileo_worker_name)")
    parser.add_argument("--processes", type=int, help="load processes")
    parser.add_argument("--logging", help="log level (galileo_log_level)")
    opts = parser.parse_args(argv)
    env = {}
    if opts.redis:
        env["galileo_redis_url"] = opts.redis
    if opts.logging:
        env["galileo_log_level"] = opts.logging.upper()
    if opts.trace_logging != "redis":
        print(f"note: --trace-logging {opts.trace_logging}: traces now always go through Redis "
              "Streams to `galileo recorder`; switch them off cluster-wide with "
              "g.tracing(False)", file=sys.stderr)
    args = ["worker"]
    if opts.name:
        args += ["--name", opts.name]
    if opts.processes:
        args += ["--processes", str(opts.processes)]
    forward("python -m galileo.cli.host " + " ".join(sys.argv[1:] if argv is None else argv),
            args, env)


if __name__ == "__main__":
    main()
