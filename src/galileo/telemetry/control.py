"""``telemd``: the shell's handle on the telemetry agents (``telemd.pause()``, ``telemd.nodes()``).

Commands go out on the seed topics ``telemcmd/<node>``. A Galileo agent acknowledges a command
that carries a correlation id, so :meth:`Telemd.pause` returns once every agent has paused; a
seed (Go) telemd gets the bare word and is not waited for.
"""

from __future__ import annotations

import time
from typing import Any, Final

import msgspec

from galileo import bus
from galileo.errors import NotFoundError, WorkerError
from galileo.protocol import (
    TELEMD_AGENT,
    Keys,
    TelemetryCommand,
    TelemetrySample,
    decode_reply,
    decode_telemetry_batch,
    new_id,
    valid_members,
)

ACK_TIMEOUT_S: Final = 5.0
INFO_POLL_S: Final = 0.02


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Telemd:
    """Pause, unpause and inspect the telemetry agents of one namespace."""

    def __init__(self, client: bus.Bus, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def nodes(self) -> list[str]:
        """Nodes whose telemetry this namespace records, sorted."""
        return valid_members(self._r.smembers(self._keys.telemd_nodes), "node",
                             self._keys.telemd_nodes)

    def info(self, node: str) -> dict[str, str]:
        """The node's ``telemd.info:<node>`` hash (``NotFoundError`` when it has none)."""
        raw: Any = self._r.hgetall(self._keys.telemd_info(node))
        if not raw:
            raise NotFoundError(f"node {node!r} has published no telemd info")
        return {_text(k): _text(v) for k, v in raw.items()}

    def pause(self, *nodes: str, timeout: float = ACK_TIMEOUT_S) -> list[str]:
        """Pause reporting on ``nodes`` (default: all); returns the nodes addressed."""
        return self._command(TelemetryCommand.PAUSE, nodes, timeout)

    def unpause(self, *nodes: str, timeout: float = ACK_TIMEOUT_S) -> list[str]:
        return self._command(TelemetryCommand.UNPAUSE, nodes, timeout)

    def refresh_info(self, *nodes: str, timeout: float = ACK_TIMEOUT_S) -> list[str]:
        """Ask the agents to publish their node info again; returns once it is published
        (or after ``timeout``)."""
        return self._command(TelemetryCommand.INFO, nodes, timeout)

    def latest(self, count: int = 100) -> list[TelemetrySample]:
        """The newest samples still in the stream (not yet taken by a recorder), oldest first."""
        entries: Any = self._r.xrevrange(self._keys.telemetry, count=count)
        out: list[TelemetrySample] = []
        for _, fields in reversed(entries or []):
            try:
                out += decode_telemetry_batch(fields[b"t"]).samples
            except (KeyError, msgspec.DecodeError, msgspec.ValidationError):
                continue
        return out

    def _command(self, command: TelemetryCommand, nodes: tuple[str, ...],
                 timeout: float) -> list[str]:
        targets = list(nodes) or self.nodes()
        corr = new_id()
        waiting = []
        for node in targets:
            agent = self._r.hget(self._keys.telemd_info(node), "agent")
            ours = agent is not None and _text(agent) == TELEMD_AGENT
            word = f"{command.value} {corr}" if ours else command.value
            heard = int(self._r.publish(self._keys.telemd_commands(node), word))
            if ours and heard:
                waiting.append(node)
            elif ours:
                raise WorkerError(f"telemd on node {node!r} is not listening on "
                                  f"{self._keys.telemd_commands(node)}")
        self._collect(corr, waiting, timeout, command)
        if command is TelemetryCommand.INFO:  # agents without acks: wait for the hash itself
            self._await_info([n for n in targets if n not in waiting], timeout)
        return targets

    def _await_info(self, nodes: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for node in nodes:
            while not self._r.exists(self._keys.telemd_info(node)):
                if time.monotonic() >= deadline:
                    return  # a seed telemd may be slow or gone; info() will say so
                time.sleep(INFO_POLL_S)

    def _collect(self, corr: str, nodes: list[str], timeout: float,
                 command: TelemetryCommand) -> None:
        deadline = time.monotonic() + timeout
        left = set(nodes)
        while left:
            remaining = deadline - time.monotonic()
            got: Any = self._r.blpop([self._keys.reply(corr)], timeout=max(remaining, 0.01))
            if got is None:
                raise WorkerError(f"telemd {command.value}: no reply from node(s) "
                                  f"{', '.join(sorted(left))} within {timeout:g} s")
            left.discard(decode_reply(got[1]).worker)
        self._r.delete(self._keys.reply(corr))

    def __repr__(self) -> str:
        return f"<telemd nodes={self.nodes()}>"
