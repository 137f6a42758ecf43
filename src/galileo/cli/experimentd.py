"""``python -m galileo.cli.experimentd``: Galileo 0.x's experiment daemon reading the Redis list
``galileo:experiments:instructions``; ``galileo bridge`` today (it queues each pushed
experiment for the runners, so start ``galileo runner`` too)."""

from __future__ import annotations

import sys

from galileo.cli.legacy import forward

if __name__ == "__main__":
    forward("python -m galileo.cli.experimentd", ["bridge", *sys.argv[1:]])
