"""Link properties of a testbed host (delay, jitter, loss, rate) and the ``tc`` commands that set
them. Pure logic: building the commands is separate from running them, so it is unit-tested.

A host's link is a veth pair (host side ``eth0``, switch side named like the host). Properties
apply to *both* ends, i.e. to both directions, as in Mininet's ``TCLink``: a packet from one
testbed host to another crosses two links, so a round trip between two hosts with
``--delay 10ms`` takes 40 ms, and one to the control host (whose link is unshaped) 20 ms.

Delay, jitter and loss need ``sch_netem``; the rate uses ``tbf`` (as netem's child qdisc when
both are set).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from galileo.errors import ValidationError
from galileo.units import format_duration, parse_duration_s, parse_percent, parse_rate_bps

__all__ = ["LinkSpec", "clear_commands", "shape_commands"]

TBF_LATENCY: Final = "200ms"  # how long tbf queues a packet before dropping it
MIN_BURST_BYTES: Final = 3200  # at least two full frames
BURST_WINDOW_S: Final = 0.01  # ... or 10 ms worth of the rate


@dataclass(frozen=True)
class LinkSpec:
    """Properties of one link; zero means "not set"."""

    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss_pct: float = 0.0
    rate_bps: int = 0

    @classmethod
    def parse(cls, *, delay: str | None = None, jitter: str | None = None,
              loss: str | None = None, rate: str | None = None) -> LinkSpec:
        """From option text (``--delay 10ms --jitter 2ms --loss 0.1% --rate 100mbit``)."""
        spec = cls(
            delay_s=parse_duration_s(delay, "--delay") if delay else 0.0,
            jitter_s=parse_duration_s(jitter, "--jitter") if jitter else 0.0,
            loss_pct=parse_percent(loss, "--loss") if loss else 0.0,
            rate_bps=parse_rate_bps(rate, "--rate") if rate else 0,
        )
        if spec.jitter_s and not spec.delay_s:
            raise ValidationError("--jitter needs a --delay to vary around.")
        return spec

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkSpec:
        return cls(**{k: data[k] for k in ("delay_s", "jitter_s", "loss_pct", "rate_bps")
                      if k in data})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def needs_netem(self) -> bool:
        return bool(self.delay_s or self.jitter_s or self.loss_pct)

    @property
    def shaped(self) -> bool:
        return self.needs_netem or bool(self.rate_bps)

    def describe(self) -> str:
        """``delay 10ms ±2ms, loss 0.1%, rate 100mbit`` or ``unshaped``."""
        parts = []
        if self.delay_s:
            jitter = f" ±{format_duration(self.jitter_s)}" if self.jitter_s else ""
            parts.append(f"delay {format_duration(self.delay_s)}{jitter}")
        if self.loss_pct:
            parts.append(f"loss {self.loss_pct:g}%")
        if self.rate_bps:
            parts.append(f"rate {_rate_text(self.rate_bps)}")
        return ", ".join(parts) or "unshaped"


def _rate_text(bps: int) -> str:
    for unit, size in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bps % size == 0:
            return f"{bps // size}{unit}"
    return f"{bps}bit"


def _netem_args(spec: LinkSpec) -> list[str]:
    args = ["netem"]
    if spec.delay_s:
        args += ["delay", format_duration(spec.delay_s)]
        if spec.jitter_s:
            args.append(format_duration(spec.jitter_s))
    if spec.loss_pct:
        args += ["loss", f"{spec.loss_pct:g}%"]
    return args


def _tbf_args(rate_bps: int) -> list[str]:
    burst = max(MIN_BURST_BYTES, int(rate_bps / 8 * BURST_WINDOW_S))
    return ["tbf", "rate", f"{rate_bps}bit", "burst", str(burst), "latency", TBF_LATENCY]


def clear_commands(dev: str) -> list[list[str]]:
    """Remove any shaping from ``dev`` (a missing root qdisc is not an error for the caller)."""
    return [["tc", "qdisc", "del", "dev", dev, "root"]]


def shape_commands(dev: str, spec: LinkSpec) -> list[list[str]]:
    """``tc`` commands (run after :func:`clear_commands`) giving ``dev``'s egress ``spec``."""
    if spec.needs_netem and spec.rate_bps:
        return [["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", *_netem_args(spec)],
                ["tc", "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:",
                 *_tbf_args(spec.rate_bps)]]
    if spec.needs_netem:
        return [["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", *_netem_args(spec)]]
    if spec.rate_bps:
        return [["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:",
                 *_tbf_args(spec.rate_bps)]]
    return []
