"""Which co-locations to measure: every composition of 1..max containers over the apps, or a
sampled fraction of them (solo runs are always kept: they normalise everything else)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from galileo.errors import ValidationError


def compositions(n_apps: int, max_per_node: int) -> list[tuple[int, ...]]:
    """All count vectors over ``n_apps`` apps with 1 ≤ total ≤ ``max_per_node``, sorted by
    total then lexicographically (descending counts first)."""
    if n_apps < 1 or max_per_node < 1:
        raise ValidationError(f"need at least one app and --max-per-node >= 1, got "
                              f"{n_apps} apps and {max_per_node}")
    out = [c for c in itertools.product(range(max_per_node + 1), repeat=n_apps)
           if 1 <= sum(c) <= max_per_node]
    return sorted(out, key=lambda c: (sum(c), [-x for x in c]))


def is_solo(comp: Sequence[int]) -> bool:
    return sum(comp) == 1


def plan(n_apps: int, max_per_node: int, fraction: float = 1.0,
         seed: int = 0) -> list[tuple[int, ...]]:
    """The compositions to run: solos first, then ``fraction`` of the rest (sampled with
    ``seed``), in a stable order."""
    if not 0.0 < fraction <= 1.0:
        raise ValidationError(f"--fraction {fraction} must be in (0, 1]")
    every = compositions(n_apps, max_per_node)
    solos = [c for c in every if is_solo(c)]
    rest = [c for c in every if not is_solo(c)]
    if fraction < 1.0:
        k = max(1, round(fraction * len(rest))) if rest else 0
        chosen = set(random.Random(seed).sample(rest, k))
        rest = [c for c in rest if c in chosen]
    return solos + rest
