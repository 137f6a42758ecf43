"""``python -m symmetry.cli.rtable``: Galileo 0.x's ``rtbl>`` shell, ``galileo rtbl`` today."""

from __future__ import annotations

import sys

from galileo.cli.legacy import forward

if __name__ == "__main__":
    forward("python -m symmetry.cli.rtable", ["rtbl", *sys.argv[1:]])
