"""A user request generator module, allowed only where a test's worker lists it."""

from __future__ import annotations

import os  # noqa: F401  (re-exported names must not be loadable through this module)
from typing import Any


class Paths:
    """Cycles over ``paths`` (a required argument)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths, self.i = paths, 0

    def next_request(self) -> dict[str, Any]:
        self.i += 1
        return {"path": self.paths[self.i % len(self.paths)]}
