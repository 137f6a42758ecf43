"""``python -m galileo.apps NAMES... [--host H] [--port P] [--processes N] [--cpus 0,1]``.

The light entry point used for server processes (no full ``galileo`` CLI import).
"""

from __future__ import annotations

import argparse
import logging
import sys

from galileo.errors import GalileoError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m galileo.apps")
    parser.add_argument("services", nargs="*")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--cpus", default="")
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--delay", default="")
    parser.add_argument("--jitter", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from galileo.apps.delay import ResponseDelay
    from galileo.apps.registry import DEFAULT_SERVICES
    from galileo.apps.server import parse_cpus, serve

    try:
        cpus = parse_cpus(args.cpus)
        delay = ResponseDelay.parse(args.delay, args.jitter)
        serve(args.services or list(DEFAULT_SERVICES), args.host, args.port,
              processes=args.processes, cpus=cpus, reuse_port=args.reuse_port, delay=delay)
    except GalileoError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
