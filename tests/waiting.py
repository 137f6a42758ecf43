"""The one polling helper of the test suite: wait for a condition with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.02


def until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    """Return as soon as ``predicate()`` is true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)
