"""Node telemetry: the agent (``galileo telemd``) and the shell's ``telemd`` controller.

* ``instruments`` / ``cgroups`` — what is measured (metric names and units are documented there).
* ``agent`` — :class:`Agent` samples on schedule and ships to the telemetry stream and the seed
  topics ``telem/<node>/<metric>[/<subsystem>]``; obeys ``telemcmd/<node>``.
* ``control`` — :class:`Telemd`: ``pause()``, ``unpause()``, ``nodes()``, ``info(node)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.telemetry.agent import ALL_INSTRUMENTS, Agent, AgentOptions, AgentStats
    from galileo.telemetry.control import Telemd

__all__ = ["ALL_INSTRUMENTS", "Agent", "AgentOptions", "AgentStats", "Telemd"]

__getattr__ = lazy_exports(__name__, {
    "ALL_INSTRUMENTS": "galileo.telemetry.agent",
    "Agent": "galileo.telemetry.agent",
    "AgentOptions": "galileo.telemetry.agent",
    "AgentStats": "galileo.telemetry.agent",
    "Telemd": "galileo.telemetry.control",
})
