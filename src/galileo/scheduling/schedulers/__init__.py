"""Every scheduler behind one interface; :func:`make_scheduler` builds one by CLI name."""

from __future__ import annotations

from importlib import import_module

from galileo.errors import ValidationError
from galileo.scheduling.schedulers.base import (
    Cluster,
    Context,
    Scheduler,
    check_placement,
    violations,
)

# CLI name -> "module:Class" (imported lazily so that heuristics never load the RL code)
SCHEDULERS = {
    "round-robin": "heuristics:RoundRobin",
    "greedy": "heuristics:Greedy",
    "paragon": "heuristics:Paragon",
    "medea": "medea:Medea",
    "vanilla-rl": "rl_agents:VanillaRL",
    "dc": "rl_agents:DivideConquer",
    "metis": "rl_agents:Metis",
    "metis-pg": "rl_agents:MetisPG",
    "ours": "ours:Ours",
}

__all__ = ["SCHEDULERS", "Cluster", "Context", "Scheduler", "check_placement", "make_scheduler",
           "parse_schedulers", "violations"]


def parse_schedulers(spec: str | None) -> list[str]:
    """``"greedy,ours"`` -> names; every name must be known; ``None``/"all" -> all of them."""
    if spec is None or spec.strip() in ("", "all"):
        return list(SCHEDULERS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for n in names:
        if n not in SCHEDULERS:
            raise ValidationError(f"unknown scheduler {n!r}; choose from {', '.join(SCHEDULERS)}")
    return names


def make_scheduler(name: str, ctx: Context) -> Scheduler:
    """Build the scheduler called ``name`` (a CLI name) with ``ctx``."""
    if name not in SCHEDULERS:
        raise ValidationError(f"unknown scheduler {name!r}; choose from {', '.join(SCHEDULERS)}")
    module, cls = SCHEDULERS[name].split(":")
    factory = getattr(import_module(f"galileo.scheduling.schedulers.{module}"), cls)
    scheduler: Scheduler = factory(ctx)
    return scheduler
