"""Rate profiles of a workload: each turns into a plan of rate changes ``(at_s, rps, ramp_s)``.

Kinds (``type``): ``constant``, ``stages`` (hold a rate reached by a linear ramp),
``steps`` (start + step every N s), ``sine``, ``spike``, ``ticks`` (one rate per ``interval``,
as the seed dashboard's ``ticks``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rate = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


@dataclass(frozen=True, slots=True)
class RateChange:
    """Set the rate to ``rps`` at ``at_s`` seconds into the run, reached by a ``ramp_s`` ramp."""

    at_s: float
    rps: float
    ramp_s: float = 0.0
    label: str = ""


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def plan(self) -> list[RateChange]:
        raise NotImplementedError

    def length_s(self) -> float | None:
        """How long the profile lasts (``None``: as long as the scenario)."""
        return None


class Constant(_Profile):
    type: Literal["constant"]
    rps: Rate

    def plan(self) -> list[RateChange]:
        return [RateChange(0.0, self.rps, 0.0, f"constant {self.rps:g}/s")]


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: Seconds
    rps: Rate
    ramp: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0

    @model_validator(mode="after")
    def _ramp_fits(self) -> Stage:
        if self.ramp > self.duration:
            raise ValueError(f"ramp {self.ramp:g} s is longer than the stage ({self.duration:g} s)")
        return self


class Stages(_Profile):
    type: Literal["stages"]
    stages: Annotated[list[Stage], Field(min_length=1)]

    def plan(self) -> list[RateChange]:
        out, t = [], 0.0
        for i, s in enumerate(self.stages):
            out.append(RateChange(t, s.rps, s.ramp, f"stage {i + 1}/{len(self.stages)}"))
            t += s.duration
        return out

    def length_s(self) -> float:
        return sum(s.duration for s in self.stages)


class Steps(_Profile):
    type: Literal["steps"]
    start: Rate = 0.0
    step: float = Field(allow_inf_nan=False)
    every: Seconds
    count: Annotated[int, Field(ge=1, le=10_000)]

    def plan(self) -> list[RateChange]:
        return [RateChange(i * self.every, max(0.0, self.start + i * self.step), 0.0,
                           f"step {i + 1}/{self.count}") for i in range(self.count)]

    def length_s(self) -> float:
        return self.count * self.every


class Sine(_Profile):
    type: Literal["sine"]
    mean: Rate
    amplitude: Rate
    period: Seconds
    duration: Seconds
    interval: Seconds = 1.0

    def plan(self) -> list[RateChange]:
        n = max(1, math.ceil(self.duration / self.interval))
        return [RateChange(i * self.interval, max(0.0, self.mean + self.amplitude * math.sin(
            2 * math.pi * (i + 1) * self.interval / self.period)), self.interval, "sine")
            for i in range(n)]

    def length_s(self) -> float:
        return self.duration


class Spike(_Profile):
    type: Literal["spike"]
    base: Rate
    peak: Rate
    at: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    duration: Seconds
    ramp: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0

    def plan(self) -> list[RateChange]:
        return [RateChange(0.0, self.base, 0.0, "base"),
                RateChange(self.at, self.peak, self.ramp, "spike"),
                RateChange(self.at + self.duration, self.base, self.ramp, "after spike")]

    def length_s(self) -> float:
        return self.at + self.duration


class Ticks(_Profile):
    type: Literal["ticks"]
    ticks: Annotated[list[Rate], Field(min_length=1)]
    interval: Seconds = 1.0

    def plan(self) -> list[RateChange]:
        return [RateChange(i * self.interval, r, 0.0, f"tick {i + 1}/{len(self.ticks)}")
                for i, r in enumerate(self.ticks)]

    def length_s(self) -> float:
        return len(self.ticks) * self.interval


Profile = Annotated[Constant | Stages | Steps | Sine | Spike | Ticks, Field(discriminator="type")]
PROFILE_TYPES = ("constant", "stages", "steps", "sine", "spike", "ticks")


def mean_rate(plan: list[RateChange], duration_s: float) -> float:
    """The planned mean rate over ``duration_s`` (ramps are linear from the previous rate)."""
    if duration_s <= 0:
        return 0.0
    changes = sorted(plan, key=lambda c: c.at_s)
    total, rate = 0.0, 0.0
    for i, c in enumerate(changes):
        if c.at_s >= duration_s:
            break
        end = min(changes[i + 1].at_s if i + 1 < len(changes) else duration_s, duration_s)
        span = end - c.at_s
        ramp = min(c.ramp_s, span)
        reached = c.rps if c.ramp_s == 0 else rate + (c.rps - rate) * ramp / c.ramp_s
        total += (rate + reached) / 2 * ramp + reached * (span - ramp)
        rate = reached
    return total / duration_s
