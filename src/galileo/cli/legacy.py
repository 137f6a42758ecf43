"""Galileo 0.x's command lines, kept working: each old entry point prints one line naming the
command that does the same today, then runs it (``python -m galileo.cli.host``,
``python -m galileo.cli.controller``, ``python -m galileo.cli.experimentd``,
``python -m symmetry.cli.rtable``, ``bin/run``). The README's "Coming from Galileo 0.x" maps
every old command, variable and shell to the new one."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn


def note(old: str, new: str) -> None:
    """The one line an old command prints (stderr, so piped output stays clean)."""
    print(f"note: `{old}` is Galileo 0.x's command; today it is `{new}`", file=sys.stderr)


def forward(old: str, args: Sequence[str], env: dict[str, str] | None = None) -> NoReturn:
    """Run ``galileo ARGS`` in this process (with ``env`` added) after the note."""
    from galileo.cli.main import run

    os.environ.update(env or {})
    prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    note(old, (prefix + " " if prefix else "") + "galileo " + " ".join(args))
    sys.argv = ["galileo", *args]
    run()
    sys.exit(0)
