"""``python -m galileo.cli.controller``: Galileo 0.x's ``exp>`` shell, ``galileo controller``
today (same commands; ``--source FILE`` runs a script)."""

from __future__ import annotations

import sys

from galileo.cli.legacy import forward

if __name__ == "__main__":
    forward("python -m galileo.cli.controller", ["controller", *sys.argv[1:]])
