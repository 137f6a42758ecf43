"""Node telemetry: the agent (``galileo telemd``) and the shell's ``telemd`` controller.

* ``instruments`` / ``cgroups`` — what is measured (metric names and units are documented there).
* ``agent`` — :class:`Agent` samples on schedule and ships to the telemetry stream and the seed
  topics ``telem/<node>/<metric>[/<subsystem>]``; obeys ``telemcmd/<node>``.
* ``control`` — :class:`Telemd`: ``pause()``, ``unpause()``, ``nodes()``, ``info(node)``.
"""

from galileo.telemetry.agent import ALL_INSTRUMENTS, Agent, AgentOptions, AgentStats
from galileo.telemetry.control import Telemd

__all__ = ["ALL_INSTRUMENTS", "Agent", "AgentOptions", "AgentStats", "Telemd"]
